/*
 * Sinks that talk to another process: a byte queue the capture threads fill
 * and a sender thread drains in batches. A line leaves the queue only once
 * the transport settled it (the peer took or refused it), so a link that
 * breaks costs nothing: what was not settled goes again after a reconnect.
 * Reading files, a full queue makes the writer wait; live, it drops the line
 * and counts it (sink.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpcsentry/log.h"
#include "rpcsentry/sink.h"

#define BATCH_LINES 512
#define BATCH_BYTES (1u << 20)

struct async_sink {
    struct sink base;
    struct sink_env env;
    const struct sink_transport *t;
    void *ctx;
    /* the queue: [u32 length][bytes] entries in a ring */
    uint8_t *ring;
    size_t cap, head, used;
    uint64_t queued; /* lines in the ring */
    pthread_mutex_t lock;
    pthread_cond_t more, space, drained;
    pthread_cond_t wake; /* ends a pause between reconnects: only closing or draining */
    bool stopping, connected, warned;
    bool told_refusal;
    bool draining; /* close or drain is waiting: no more waiting on a dead peer */
    pthread_t tid;
    /* the sender's batch: lines copied out of the ring, still in it until settled */
    char *bbuf;
    size_t bcap;
    struct iovec iov[BATCH_LINES];
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ring_put(struct async_sink *a, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t tail = (a->head + a->used) % a->cap;
    size_t first = n < a->cap - tail ? n : a->cap - tail;
    memcpy(a->ring + tail, b, first);
    memcpy(a->ring, b + first, n - first);
    a->used += n;
}

/* Copies n bytes at offset off past the head, without taking them. */
static void ring_peek(const struct async_sink *a, size_t off, void *p, size_t n)
{
    uint8_t *b = p;
    size_t at = (a->head + off) % a->cap;
    size_t first = n < a->cap - at ? n : a->cap - at;
    memcpy(b, a->ring + at, first);
    memcpy(b + first, a->ring, n - first);
}

/* Takes the first k lines off the queue. */
static void ring_pop(struct async_sink *a, size_t k)
{
    for (size_t i = 0; i < k && a->used; i++) {
        uint32_t n;
        ring_peek(a, 0, &n, sizeof n);
        a->head = (a->head + sizeof n + n) % a->cap;
        a->used -= sizeof n + n;
        a->queued--;
    }
    pthread_cond_broadcast(&a->space);
    if (!a->used)
        pthread_cond_broadcast(&a->drained);
}

static bool as_write(struct sink *s, const char *line, size_t len)
{
    struct async_sink *a = (struct async_sink *)s;
    uint32_t n = (uint32_t)len;
    size_t need = sizeof n + len;
    pthread_mutex_lock(&a->lock);
    if (a->env.lossless)
        while (need > a->cap - a->used && need <= a->cap && !atomic_load(&s->failed))
            pthread_cond_wait(&a->space, &a->lock);
    bool fits = need <= a->cap - a->used && !atomic_load(&s->failed);
    if (fits) {
        ring_put(a, &n, sizeof n);
        ring_put(a, line, len);
        a->queued++;
        pthread_cond_signal(&a->more);
    } else {
        if (need > a->cap)
            sink_note_error(s, "a record of %zu bytes is larger than the queue", len);
        else if (!atomic_load(&s->failed))
            sink_note_error(s, "queue full (peer away or slow)");
        atomic_fetch_add(&s->dropped, 1);
    }
    pthread_mutex_unlock(&a->lock);
    return fits;
}

/*
 * Waits ms milliseconds, or less when closing or draining (not at each new
 * line: a peer that is down must not be called on at the rate records come).
 * Called with the lock held.
 */
static void pause_locked(struct async_sink *a, unsigned ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&a->wake, &a->lock, &dl);
}

/* Copies up to BATCH_LINES lines from the head into the batch; returns how many. */
static size_t batch_fill(struct async_sink *a)
{
    size_t off = 0, k = 0, bytes = 0;
    while (k < BATCH_LINES && off < a->used) {
        uint32_t n;
        ring_peek(a, off, &n, sizeof n);
        if (k && bytes + n > BATCH_BYTES)
            break;
        if (bytes + n > a->bcap) {
            if (k)
                break; /* the batch holds pointers into bbuf: no moving it now */
            char *nb = realloc(a->bbuf, n);
            if (!nb)
                break;
            a->bbuf = nb;
            a->bcap = n;
        }
        ring_peek(a, off + sizeof n, a->bbuf + bytes, n);
        a->iov[k].iov_base = a->bbuf + bytes;
        a->iov[k].iov_len = n;
        bytes += n;
        off += sizeof n + n;
        k++;
    }
    return k;
}

/* Gives up on the peer (lossless mode): what is queued and what comes is dropped. */
static void give_up(struct async_sink *a, const char *why)
{
    struct sink *s = &a->base;
    sink_note_error(s, "%s", why);
    atomic_store(&s->failed, true);
    uint64_t lost = a->queued;
    a->head = a->used = 0;
    a->queued = 0;
    atomic_fetch_add(&s->dropped, lost);
    pthread_cond_broadcast(&a->space);
    pthread_cond_broadcast(&a->drained);
    log_error("output %s: %s for %u s; giving up on it (%llu queued records lost, the run "
              "stops)",
              s->spec, why, a->env.wait_s, (unsigned long long)lost);
    if (a->env.stop)
        *a->env.stop = true;
}

static void *sender(void *arg)
{
    struct async_sink *a = arg;
    struct sink *s = &a->base;
    unsigned backoff = 100;
    uint64_t last_progress = mono_ms();
    char err[256] = "";
    pthread_mutex_lock(&a->lock);
    for (;;) {
        if (!a->used) { /* time spent idle is not the peer's fault */
            while (!a->used && !a->stopping)
                pthread_cond_wait(&a->more, &a->lock);
            last_progress = mono_ms();
        }
        if (!a->used || atomic_load(&s->failed))
            break;
        /* how long the queue may wait on the peer: lossless, wait_s; live, forever,
         * except when closing, when two seconds */
        uint64_t limit_ms = a->draining && !a->env.lossless ? 2000
                            : a->env.lossless               ? (uint64_t)a->env.wait_s * 1000
                                                            : 0;
        if (limit_ms && mono_ms() - last_progress > limit_ms) {
            if (a->env.lossless) {
                give_up(a, err[0] ? err : "the peer took nothing");
                break;
            }
            break; /* live, closing: what is left is counted below */
        }
        if (!a->connected) {
            pthread_mutex_unlock(&a->lock);
            err[0] = '\0';
            bool ok = a->t->connect(a->ctx, err, sizeof err);
            pthread_mutex_lock(&a->lock);
            if (!ok) {
                if (!a->warned) {
                    log_warn("output %s: %s; retrying, records queue meanwhile", s->spec, err);
                    a->warned = true;
                }
                pause_locked(a, backoff);
                backoff = backoff < 2000 ? backoff * 2 : 2000;
                continue;
            }
            if (a->warned)
                log_notice("output %s: connected", s->spec);
            a->connected = true;
            a->warned = false;
            backoff = 100;
        }
        size_t n = batch_fill(a);
        if (!n) { /* no memory to copy the first line out: it is lost, the rest go on */
            sink_note_error(s, "out of memory for a record");
            atomic_fetch_add(&s->dropped, 1);
            ring_pop(a, 1);
            continue;
        }
        pthread_mutex_unlock(&a->lock);
        size_t settled = 0, refused = 0;
        char serr[256] = "";
        enum send_result r = a->t->send(a->ctx, a->iov, n, &settled, &refused, serr, sizeof serr);
        if (r == SEND_BROKEN)
            a->t->disconnect(a->ctx);
        pthread_mutex_lock(&a->lock);
        if (settled > n)
            settled = n;
        if (refused) {
            sink_note_error(s, "refused by the peer: %s", serr);
            if (!a->told_refusal)
                log_error("output %s: the peer refused a record: %s", s->spec, serr);
            a->told_refusal = true;
            atomic_fetch_add(&s->dropped, refused);
        }
        atomic_fetch_add(&s->written, settled - (refused < settled ? refused : settled));
        ring_pop(a, settled);
        if (settled)
            last_progress = mono_ms();
        if (r == SEND_BROKEN) {
            a->connected = false;
            if (serr[0])
                snprintf(err, sizeof err, "%s", serr);
            if (!a->warned) {
                log_warn("output %s: %s; reconnecting, records queue meanwhile", s->spec,
                         serr[0] ? serr : "link lost");
                a->warned = true;
            }
        } else if (r == SEND_SLOW) {
            snprintf(err, sizeof err, "%s", serr[0] ? serr : "the peer is not reading");
        }
    }
    /* what could not be sent */
    atomic_fetch_add(&s->dropped, a->queued);
    if (a->queued)
        sink_note_error(s, "%s", err[0] ? err : "peer away at exit");
    a->head = a->used = 0;
    a->queued = 0;
    pthread_cond_broadcast(&a->drained);
    pthread_cond_broadcast(&a->space);
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static void as_flush(struct sink *s)
{
    (void)s;
}

static void as_reopen(struct sink *s)
{
    (void)s; /* a socket needs no rotation */
}

/* Waits for the queue to empty; the sender gives up on a dead peer on its own. */
static void as_drain(struct sink *s)
{
    struct async_sink *a = (struct async_sink *)s;
    pthread_mutex_lock(&a->lock);
    a->draining = true;
    pthread_cond_broadcast(&a->more);
    pthread_cond_broadcast(&a->wake);
    while (a->used && !a->stopping)
        pthread_cond_wait(&a->drained, &a->lock);
    a->draining = false;
    pthread_mutex_unlock(&a->lock);
}

static void as_close(struct sink *s)
{
    struct async_sink *a = (struct async_sink *)s;
    pthread_mutex_lock(&a->lock);
    a->draining = true;
    a->stopping = true; /* the sender ends once the queue is worked off or given up */
    pthread_cond_broadcast(&a->more);
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->tid, NULL);
    atomic_fetch_add(&s->dropped, a->queued); /* queued after the sender ended (live) */
    if (a->connected)
        a->t->disconnect(a->ctx);
    a->t->free(a->ctx);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->more);
    pthread_cond_destroy(&a->space);
    pthread_cond_destroy(&a->drained);
    pthread_cond_destroy(&a->wake);
    free(a->bbuf);
    free(a->ring);
    free(a);
}

struct sink *sink_async_open(const struct sink_transport *t, void *ctx, size_t cap,
                             const struct sink_env *env)
{
    struct async_sink *a = calloc(1, sizeof *a);
    if (!a) {
        t->free(ctx);
        return NULL;
    }
    a->cap = cap < 4096 ? 4096 : cap;
    a->ring = malloc(a->cap);
    a->bcap = BATCH_BYTES;
    a->bbuf = malloc(a->bcap);
    if (!a->ring || !a->bbuf) {
        free(a->ring);
        free(a->bbuf);
        free(a);
        t->free(ctx);
        return NULL;
    }
    a->env = *env;
    a->t = t;
    a->ctx = ctx;
    a->base.name = t->name;
    a->base.write = as_write;
    a->base.flush = as_flush;
    a->base.drain = as_drain;
    a->base.reopen = as_reopen;
    a->base.close = as_close;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->more, NULL);
    pthread_cond_init(&a->space, NULL);
    pthread_cond_init(&a->drained, NULL);
    pthread_cond_init(&a->wake, NULL);
    if (pthread_create(&a->tid, NULL, sender, a) != 0) {
        free(a->ring);
        free(a->bbuf);
        free(a);
        t->free(ctx);
        return NULL;
    }
    return &a->base;
}
