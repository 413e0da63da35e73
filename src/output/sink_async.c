/*
 * Sinks that talk to another process: a byte queue the capture threads fill
 * and a sender thread drains. Capture never waits on the peer: a full queue
 * drops the line and counts it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpcsentry/log.h"
#include "rpcsentry/sink.h"

struct async_sink {
    struct sink base;
    const struct sink_transport *t;
    void *ctx;
    /* the queue: [u32 length][bytes] entries in a ring */
    uint8_t *ring;
    size_t cap, head, used;
    pthread_mutex_t lock;
    pthread_cond_t more, drained;
    bool stopping, connected, warned;
    pthread_t tid;
};

static void ring_put(struct async_sink *a, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t tail = (a->head + a->used) % a->cap;
    size_t first = n < a->cap - tail ? n : a->cap - tail;
    memcpy(a->ring + tail, b, first);
    memcpy(a->ring, b + first, n - first);
    a->used += n;
}

static void ring_get(struct async_sink *a, void *p, size_t n)
{
    uint8_t *b = p;
    size_t first = n < a->cap - a->head ? n : a->cap - a->head;
    memcpy(b, a->ring + a->head, first);
    memcpy(b + first, a->ring, n - first);
    a->head = (a->head + n) % a->cap;
    a->used -= n;
}

static bool as_write(struct sink *s, const char *line, size_t len)
{
    struct async_sink *a = (struct async_sink *)s;
    uint32_t n = (uint32_t)len;
    pthread_mutex_lock(&a->lock);
    bool fits = sizeof n + len <= a->cap - a->used;
    if (fits) {
        ring_put(a, &n, sizeof n);
        ring_put(a, line, len);
        pthread_cond_signal(&a->more);
    } else {
        s->dropped++;
    }
    pthread_mutex_unlock(&a->lock);
    return fits;
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void *sender(void *arg)
{
    struct async_sink *a = arg;
    size_t bufcap = 1 << 16;
    char *buf = malloc(bufcap);
    unsigned backoff = 100;
    for (;;) {
        pthread_mutex_lock(&a->lock);
        while (!a->used && !a->stopping)
            pthread_cond_wait(&a->more, &a->lock);
        if (!a->used && a->stopping) {
            pthread_mutex_unlock(&a->lock);
            break;
        }
        bool stopping = a->stopping;
        pthread_mutex_unlock(&a->lock);
        if (!a->connected) {
            char err[256] = "";
            if (!a->t->connect(a->ctx, err, sizeof err)) {
                if (!a->warned) {
                    log_warn("output %s: %s; retrying, records queue meanwhile", a->base.spec,
                             err);
                    a->warned = true;
                }
                if (stopping)
                    break; /* no peer at exit: what is queued counts as dropped */
                pause_ms(backoff);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                continue;
            }
            if (a->warned)
                log_info("output %s: connected", a->base.spec);
            pthread_mutex_lock(&a->lock);
            a->connected = true;
            pthread_mutex_unlock(&a->lock);
            a->warned = false;
            backoff = 100;
        }
        /* one line at a time out of the queue, sent without the lock */
        pthread_mutex_lock(&a->lock);
        uint32_t n = 0;
        ring_get(a, &n, sizeof n);
        if (n > bufcap) {
            char *nb = realloc(buf, n);
            if (nb) {
                buf = nb;
                bufcap = n;
            }
        }
        if (n <= bufcap) {
            ring_get(a, buf, n);
        } else { /* no memory for it: skip it */
            a->head = (a->head + n) % a->cap;
            a->used -= n;
        }
        if (!a->used)
            pthread_cond_broadcast(&a->drained);
        pthread_mutex_unlock(&a->lock);
        bool sent = n <= bufcap && a->t->send(a->ctx, buf, n);
        if (!sent && n <= bufcap)
            a->t->disconnect(a->ctx); /* it was on its way when the link broke */
        pthread_mutex_lock(&a->lock);
        if (sent)
            a->base.written++;
        else
            a->base.dropped++;
        if (!sent && n <= bufcap)
            a->connected = false;
        pthread_mutex_unlock(&a->lock);
    }
    /* whatever could not be sent */
    pthread_mutex_lock(&a->lock);
    while (a->used) {
        uint32_t n;
        ring_get(a, &n, sizeof n);
        a->head = (a->head + n) % a->cap;
        a->used -= n;
        a->base.dropped++;
    }
    pthread_cond_broadcast(&a->drained);
    pthread_mutex_unlock(&a->lock);
    free(buf);
    return NULL;
}

static void as_flush(struct sink *s) { (void)s; }

static void as_reopen(struct sink *s)
{
    (void)s; /* a socket needs no rotation */
}

static void as_close(struct sink *s)
{
    struct async_sink *a = (struct async_sink *)s;
    pthread_mutex_lock(&a->lock);
    /* give the sender two seconds to drain what is queued */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 2;
    while (a->used && a->connected)
        if (pthread_cond_timedwait(&a->drained, &a->lock, &dl) == ETIMEDOUT)
            break;
    a->stopping = true;
    pthread_cond_broadcast(&a->more);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->tid, NULL);
    if (a->base.dropped) /* the last word on what this output lost, queue included */
        log_warn("output %s: %llu records sent, %llu dropped (peer away or queue full)",
                 a->base.spec, (unsigned long long)a->base.written,
                 (unsigned long long)a->base.dropped);
    if (a->connected)
        a->t->disconnect(a->ctx);
    a->t->free(a->ctx);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->more);
    pthread_cond_destroy(&a->drained);
    free(a->ring);
    free(a);
}

struct sink *sink_async_open(const struct sink_transport *t, void *ctx, size_t cap)
{
    struct async_sink *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cap = cap < 4096 ? 4096 : cap;
    a->ring = malloc(a->cap);
    if (!a->ring) {
        free(a);
        return NULL;
    }
    a->t = t;
    a->ctx = ctx;
    a->base.name = t->name;
    a->base.write = as_write;
    a->base.flush = as_flush;
    a->base.reopen = as_reopen;
    a->base.close = as_close;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->more, NULL);
    pthread_cond_init(&a->drained, NULL);
    if (pthread_create(&a->tid, NULL, sender, a) != 0) {
        free(a->ring);
        free(a);
        return NULL;
    }
    return &a->base;
}
