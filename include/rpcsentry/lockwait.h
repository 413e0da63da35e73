/*
 * Mutexes the workers share (the output's, the stories', the endpoint mapper's), taken
 * with a count of the times another worker held it and of the time spent waiting: the
 * stats record's lock_* counters, so that scaling past this machine's cores can be judged
 * from what the workers wait on. An uncontended take costs one trylock.
 */
#ifndef RPCSENTRY_LOCKWAIT_H
#define RPCSENTRY_LOCKWAIT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t lockwait_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void lock_counted(pthread_mutex_t *m, uint64_t *waits, uint64_t *wait_us)
{
    if (pthread_mutex_trylock(m) == 0)
        return;
    uint64_t t0 = lockwait_now_ns();
    pthread_mutex_lock(m);
    (*waits)++;
    *wait_us += (lockwait_now_ns() - t0) / 1000;
}

#endif
