/*
 * Reading captures with several workers: the reading thread hashes each
 * packet's address pair (both directions agree) and puts it in a batch for
 * that pair's worker; each worker thread decodes its batches in order, with
 * the same look-ahead as a single reader. Frames of a mapped file are
 * passed by address (the mapping lives until every worker has ended the
 * file); others are copied into the batch. Markers in the same queues say
 * where a file begins (its name, for the records) and ends (its flows and
 * stories are flushed, as a single worker does). Each worker keeps the
 * stories of its calls: a story's calls are between the same two hosts.
 *
 * Capture order: each frame carries its place in the run (order_seq), and
 * each worker publishes the place of the frame it is on. A worker about to
 * touch the table the workers share (the endpoint mapper's) waits until no
 * other worker still holds a frame placed before its own
 * (the worker's order_wait), so the table sees the capture's order whatever the
 * threads' timing. Nobody waits on a worker
 * that is itself waiting: it waits only for frames placed before its own,
 * and the worker holding the earliest frame never waits. The reader's
 * half-filled batches hold frames too: a waiting worker asks the reader to
 * send them on, and the reader sends them all before it blocks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/capture.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/lockwait.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/worker.h"

#define BATCH_BYTES (1u << 20)
#define BATCH_PKTS 4096
#define BATCHES 8 /* per worker: the reader waits when a worker is this far behind */

enum entry_kind { E_PACKET, E_FILE_BEGIN, E_FILE_END };

struct entry {
    uint8_t kind;
    int linktype;
    uint32_t off, caplen, wirelen;
    uint64_t ts_us, pcap_cnt;
    uint64_t seq;         /* place in the run (a packet, a file's end) */
    uint64_t clock_us;    /* the file's latest frame time up to this frame */
    uint64_t answers_seq; /* the last place up to it that may carry an EPM answer */
    const char *path;
    const uint8_t *frame; /* the frame where it lies, or NULL: in the batch at off */
};

struct batch {
    uint8_t data[BATCH_BYTES];
    struct entry e[BATCH_PKTS];
    uint32_t used, n;
    const uint8_t *first_frame; /* its first frame left where it lies (NULL: none) */
    uint64_t first_seq;         /* the place of its first packet or file end (NO_SEQ: none) */
};

#define NO_SEQ UINT64_MAX

struct queue {
    struct batch *b[BATCHES];
    struct batch *free[BATCHES];
    struct batch *running; /* the batch its worker is on */
    unsigned head, count, nfree;
    bool done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t cur_first; /* first_seq of the batch the reader fills (under lock) */
    char pad0[64];
    _Atomic uint64_t pos; /* while running: the place of the frame its worker is on */
    char pad1[64];
};

struct dispatch {
    unsigned n;
    /* files ended, as the workers count them: the reader waits for all before going on */
    unsigned ended;
    pthread_mutex_t end_lock;
    pthread_cond_t end_cond;
    struct worker **ws;
    struct queue *q;
    struct batch **cur; /* the batch the reader fills for each worker */
    pthread_t *tid;
    uint64_t seed;
    uint64_t last_cnt, last_ts; /* the file's last frame so far */
    uint64_t seq;               /* the last place given (reader) */
    uint64_t clock_us;          /* the file's latest frame time so far (reader) */
    uint64_t answers_seq;       /* the last place given to a frame that may carry an
                                   endpoint-mapper answer (reader) */
    /* capture order: workers waiting in order_wait, and their wish that the
       reader send on its half-filled batches */
    _Atomic unsigned order_waiters;
    _Atomic uint64_t order_need; /* the earliest place a waiter waits for */
    _Atomic bool flush_wanted;
    pthread_mutex_t order_lock;
    pthread_cond_t order_cond;
};

static void order_at(struct worker *w, uint64_t seq, uint64_t answers_seq);
static void order_wait(struct worker *w, bool answers);

/* A waiting worker may be able to go on: tell it (rare: only when one waits for a place
   at or before seq, the place a worker has reached). */
static void order_moved(struct dispatch *d, uint64_t seq)
{
    if (atomic_load(&d->order_waiters) && seq >= atomic_load(&d->order_need)) {
        pthread_mutex_lock(&d->order_lock);
        pthread_cond_broadcast(&d->order_cond);
        pthread_mutex_unlock(&d->order_lock);
    }
}

static void push(struct queue *q, struct batch *b)
{
    pthread_mutex_lock(&q->lock);
    q->b[(q->head + q->count) % BATCHES] = b;
    q->count++;
    q->cur_first = NO_SEQ; /* its frames are in the queue now */
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* A batch to fill: one back from the worker, waiting for it if need be. */
static struct batch *take_free(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->nfree == 0)
        pthread_cond_wait(&q->cond, &q->lock);
    struct batch *b = q->free[--q->nfree];
    pthread_mutex_unlock(&q->lock);
    b->used = b->n = 0;
    b->first_frame = NULL;
    b->first_seq = NO_SEQ;
    return b;
}

static void give_back(struct dispatch *d, struct queue *q, struct batch *b)
{
    pthread_mutex_lock(&q->lock);
    q->running = NULL;
    q->free[q->nfree++] = b;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    order_moved(d, NO_SEQ); /* every frame it had is done */
}

static void flush_one(struct dispatch *d, unsigned i)
{
    if (d->cur[i] && d->cur[i]->n) {
        push(&d->q[i], d->cur[i]);
        d->cur[i] = NULL;
    }
}

static void flush_all(struct dispatch *d)
{
    for (unsigned i = 0; i < d->n; i++)
        flush_one(d, i);
}

static struct entry *room(struct dispatch *d, unsigned i, uint32_t bytes)
{
    struct batch *b = d->cur[i];
    if (b && (b->n == BATCH_PKTS || b->used + bytes > BATCH_BYTES)) {
        flush_one(d, i);
        b = NULL;
    }
    if (!b) {
        struct queue *q = &d->q[i];
        pthread_mutex_lock(&q->lock);
        bool would_wait = q->nfree == 0;
        pthread_mutex_unlock(&q->lock);
        /* this worker is behind, maybe waiting for another whose frames sit in a
           half-filled batch here: send them on before waiting (the queues always
           have room for every batch) */
        if (would_wait)
            flush_all(d);
        b = d->cur[i] = take_free(q);
    }
    return &b->e[b->n];
}

/* The batch being filled for worker i gets the frame at seq: the first one tells. */
static void note_seq(struct dispatch *d, unsigned i, uint64_t seq)
{
    struct batch *b = d->cur[i];
    if (b->first_seq == NO_SEQ) {
        pthread_mutex_lock(&d->q[i].lock);
        b->first_seq = d->q[i].cur_first = seq;
        pthread_mutex_unlock(&d->q[i].lock);
    }
}

static void run_batch(struct dispatch *d, struct worker *w, struct batch *b)
{
    struct ahead ah = {.n = 0};
    for (uint32_t i = 0; i < b->n; i++) {
        const struct entry *e = &b->e[i];
        if (e->kind != E_PACKET)
            ahead_drain(w, &ah);
        if (e->kind == E_FILE_BEGIN) {
            w->pcap_filename = e->path;
            w->pcap_cnt = 0;
            w->clock_us = 0;
            continue;
        }
        if (e->kind == E_FILE_END) {
            /* what ends now ends as of the file's last frame, as with one worker, not as of
               this worker's last one */
            if (e->pcap_cnt) {
                w->pcap_cnt = e->pcap_cnt;
                w->now_us = e->ts_us;
            }
            order_at(w, e->seq, e->seq); /* every frame of the file it had is done */
            /* the workers end their flows one after the other, in their order, so that
               what the endings write to shared tables comes in the same order every run */
            pthread_mutex_lock(&d->end_lock);
            while (d->ended % d->n != w->dispatch_index)
                pthread_cond_wait(&d->end_cond, &d->end_lock);
            pthread_mutex_unlock(&d->end_lock);
            flow_flush_all(w);
            detect_flush(w); /* its stories: their calls all went through this worker */
            pthread_mutex_lock(&d->end_lock);
            d->ended++;
            pthread_cond_broadcast(&d->end_cond);
            pthread_mutex_unlock(&d->end_lock);
            continue;
        }
        struct packet p; /* the fields ahead_push reads, no more (see frame_ahead) */
        p.data = e->frame ? e->frame : b->data + e->off;
        p.caplen = e->caplen;
        p.wirelen = e->wirelen;
        p.ts_us = e->ts_us;
        p.pcap_cnt = e->pcap_cnt;
        p.linktype = e->linktype;
        p.order_seq = e->seq;
        p.clock_us = e->clock_us;
        p.answers_seq = e->answers_seq;
        worker_adopt_rules(w);
        ahead_push(w, &ah, &p);
    }
    ahead_drain(w, &ah); /* before the batch goes back */
}

struct thread_arg {
    struct dispatch *d;
    unsigned i;
};

static void *worker_main(void *arg)
{
    struct thread_arg *a = arg;
    struct dispatch *d = a->d;
    unsigned i = a->i;
    free(a);
    struct queue *q = &d->q[i];
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->count == 0 && !q->done)
            pthread_cond_wait(&q->cond, &q->lock);
        if (q->count == 0 && q->done) {
            pthread_mutex_unlock(&q->lock);
            break;
        }
        struct batch *b = q->b[q->head];
        q->head = (q->head + 1) % BATCHES;
        q->count--;
        q->running = b;
        atomic_store(&q->pos, b->first_seq); /* before any of it is done */
        pthread_mutex_unlock(&q->lock);
        run_batch(d, d->ws[i], b);
        give_back(d, q, b);
    }
    return NULL;
}

struct dispatch *dispatch_start(struct worker **ws, unsigned n)
{
    struct dispatch *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->n = n;
    d->ws = ws;
    d->q = calloc(n, sizeof *d->q);
    d->cur = calloc(n, sizeof *d->cur);
    d->tid = calloc(n, sizeof *d->tid);
    d->seed = 0x6b1c3f2d9e8a7b65ULL;
    pthread_mutex_init(&d->end_lock, NULL);
    pthread_cond_init(&d->end_cond, NULL);
    pthread_mutex_init(&d->order_lock, NULL);
    atomic_init(&d->order_need, NO_SEQ);
    pthread_cond_init(&d->order_cond, NULL);
    for (unsigned i = 0; i < n; i++) {
        ws[i]->dispatch_of = d;
        ws[i]->dispatch_index = i;
        ws[i]->order_at = order_at;
        ws[i]->order_wait = order_wait;
    }
    if (!d->q || !d->cur || !d->tid) {
        free(d->q), free(d->cur), free(d->tid), free(d);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        struct queue *q = &d->q[i];
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->cond, NULL);
        q->cur_first = NO_SEQ;
        atomic_init(&q->pos, NO_SEQ);
        for (unsigned k = 0; k < BATCHES; k++) {
            struct batch *b = malloc(sizeof *b);
            if (b)
                q->free[q->nfree++] = b;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        struct thread_arg *a = malloc(sizeof *a);
        a->d = d;
        a->i = i;
        pthread_create(&d->tid[i], NULL, worker_main, a);
    }
    return d;
}

/*
 * The worker of a packet: its two addresses, in either order, hashed (not IP:
 * the first). By the address pair, not the whole flow: an endpoint-mapper
 * answer and the connection it announces, and the several connections of
 * one story, are between the same two hosts, and one worker sees them in
 * the order the capture has them, as a single worker would. IP fragments go
 * with their flow.
 */
static unsigned worker_of(struct dispatch *d, struct packet *p, bool *may_answer)
{
    enum decode_result r = decode_layers(p);
    *may_answer = decode_may_answer(p, r);
    if (r != DECODE_OK && r != DECODE_FRAGMENT)
        return 0;
    uint8_t pair[33];
    bool lower = memcmp(p->src, p->dst, 16) <= 0;
    memcpy(pair, lower ? p->src : p->dst, 16);
    memcpy(pair + 16, lower ? p->dst : p->src, 16);
    pair[32] = p->ipver;
    return (unsigned)(hash64(pair, sizeof pair, d->seed) % d->n);
}

void dispatch_packet(struct dispatch *d, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                     uint64_t ts_us, int linktype, uint64_t pcap_cnt, bool stays)
{
    d->last_cnt = pcap_cnt;
    d->last_ts = ts_us;
    if (ts_us > d->clock_us)
        d->clock_us = ts_us;
    if (atomic_load_explicit(&d->flush_wanted, memory_order_relaxed)) {
        /* a worker waits for frames that may sit in half-filled batches */
        atomic_store(&d->flush_wanted, false);
        flush_all(d);
    }
    struct packet p;
    memset(&p, 0, sizeof p);
    p.data = data;
    p.caplen = caplen;
    p.wirelen = wirelen;
    p.linktype = linktype;
    bool may_answer;
    unsigned i = worker_of(d, &p, &may_answer);
    if (caplen > BATCH_BYTES)
        caplen = BATCH_BYTES; /* cannot happen with pcap's snap lengths; kept bounded */
    /* a frame left where it lies still counts its bytes, so batches of such frames are no
       larger than those of copies: a worker holding one holds back less of the file from
       being let go (dispatch_oldest_frame) */
    struct entry *e = room(d, i, caplen);
    struct batch *b = d->cur[i];
    uint64_t seq = ++d->seq;
    if (may_answer)
        d->answers_seq = seq;
    note_seq(d, i, seq);
    if (!stays)
        memcpy(b->data + b->used, data, caplen);
    else if (!b->first_frame)
        b->first_frame = data;
    *e = (struct entry){E_PACKET,    linktype,       b->used,  caplen,
                        wirelen,     ts_us,          pcap_cnt, seq,
                        d->clock_us, d->answers_seq, NULL,     stays ? data : NULL};
    b->used += caplen;
    b->n++;
}

const uint8_t *dispatch_oldest_frame(struct dispatch *d)
{
    const uint8_t *oldest = NULL;
#define OLDER(b)                                                                                   \
    if ((b) && (b)->first_frame && (!oldest || (b)->first_frame < oldest))                         \
        oldest = (b)->first_frame;
    for (unsigned i = 0; i < d->n; i++) {
        flush_one(d, i); /* a worker that gets few frames must not hold old ones for long */
        struct queue *q = &d->q[i];
        pthread_mutex_lock(&q->lock);
        OLDER(q->running)
        for (unsigned k = 0; k < q->count; k++)
            OLDER(q->b[(q->head + k) % BATCHES])
        pthread_mutex_unlock(&q->lock);
    }
#undef OLDER
    return oldest;
}

static void marker(struct dispatch *d, enum entry_kind kind, const char *path)
{
    /* a file's end has a place of its own, after its last frame, the same for every worker */
    uint64_t seq = kind == E_FILE_END ? ++d->seq : 0;
    if (kind == E_FILE_END)
        d->answers_seq = seq; /* what ends then may answer too */
    for (unsigned i = 0; i < d->n; i++) {
        struct entry *e = room(d, i, 0);
        *e = (struct entry){.kind = (uint8_t)kind, .path = path};
        if (kind == E_FILE_END) {
            e->pcap_cnt = d->last_cnt, e->ts_us = d->last_ts;
            e->seq = seq;
            note_seq(d, i, seq);
        }
        d->cur[i]->n++;
        if (kind == E_FILE_END)
            flush_one(d, i);
    }
}

void dispatch_file_begin(struct dispatch *d, const char *path)
{
    d->last_cnt = d->last_ts = d->clock_us = 0;
    marker(d, E_FILE_BEGIN, path);
}

/* The file ended: each worker flushes its flows and stories when it gets there, in turn. */
void dispatch_file_end(struct dispatch *d)
{
    pthread_mutex_lock(&d->end_lock);
    unsigned target = d->ended + d->n;
    pthread_mutex_unlock(&d->end_lock);
    marker(d, E_FILE_END, NULL);
    pthread_mutex_lock(&d->end_lock);
    while (d->ended < target)
        pthread_cond_wait(&d->end_cond, &d->end_lock);
    pthread_mutex_unlock(&d->end_lock);
}

void dispatch_finish(struct dispatch *d)
{
    if (!d)
        return;
    for (unsigned i = 0; i < d->n; i++) {
        flush_one(d, i);
        pthread_mutex_lock(&d->q[i].lock);
        d->q[i].done = true;
        pthread_cond_broadcast(&d->q[i].cond);
        pthread_mutex_unlock(&d->q[i].lock);
    }
    for (unsigned i = 0; i < d->n; i++) {
        pthread_join(d->tid[i], NULL);
        d->ws[i]->dispatch_of = NULL; /* what follows runs on this thread alone */
        d->ws[i]->order_at = NULL;
        d->ws[i]->order_wait = NULL;
        struct queue *q = &d->q[i];
        for (unsigned k = 0; k < q->nfree; k++)
            free(q->free[k]);
        if (d->cur[i])
            free(d->cur[i]);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
    }
    pthread_mutex_destroy(&d->end_lock);
    pthread_cond_destroy(&d->end_cond);
    pthread_mutex_destroy(&d->order_lock);
    pthread_cond_destroy(&d->order_cond);
    free(d->q);
    free(d->cur);
    free(d->tid);
    free(d);
}

/* ---- capture order ---- */

static void order_at(struct worker *w, uint64_t seq, uint64_t answers_seq)
{
    struct dispatch *d = w->dispatch_of;
    if (!d)
        return;
    w->order_seq = seq;
    w->answers_seq = answers_seq;
    /* sequentially consistent, as the waiter's count and its read of pos: either it sees
       this place, or this sees it waiting */
    atomic_store(&d->q[w->dispatch_index].pos, seq);
    order_moved(d, seq);
}

/* The earliest place among the frames worker i has not done, NO_SEQ if none. */
static uint64_t pending_first(struct dispatch *d, unsigned i)
{
    struct queue *q = &d->q[i];
    pthread_mutex_lock(&q->lock);
    uint64_t m = q->cur_first;
    if (q->count && q->b[q->head]->first_seq < m)
        m = q->b[q->head]->first_seq;
    if (q->running) {
        uint64_t at = atomic_load(&q->pos);
        m = at < m ? at : m;
    }
    pthread_mutex_unlock(&q->lock);
    return m;
}

/* No other worker holds a frame placed before seq. (A file's end is the same place for
   all: a worker there holds nothing before it.) */
static bool order_reached(struct dispatch *d, unsigned self, uint64_t seq)
{
    for (unsigned i = 0; i < d->n; i++)
        if (i != self && pending_first(d, i) < seq)
            return false;
    return true;
}

/* Returns once no other worker holds a frame placed before seq (at most w's own). */
static void order_wait_for(struct worker *w, uint64_t seq)
{
    struct dispatch *d = w->dispatch_of;
    if (!d || order_reached(d, w->dispatch_index, seq))
        return;
    uint64_t t0 = lockwait_now_ns();
    w->stats.order_waits++;
    pthread_mutex_lock(&d->order_lock);
    atomic_fetch_add(&d->order_waiters, 1);
    /* the others wake the waiters only once one of them reaches this place (or ends a
       batch), not at each frame they do */
    if (seq < atomic_load(&d->order_need))
        atomic_store(&d->order_need, seq);
    atomic_store(&d->flush_wanted, true);
    while (!order_reached(d, w->dispatch_index, seq))
        pthread_cond_wait(&d->order_cond, &d->order_lock);
    if (atomic_fetch_sub(&d->order_waiters, 1) == 1)
        atomic_store(&d->order_need, NO_SEQ); /* else a later waiter's place may stay: more
                                                 wake-ups, never fewer */
    pthread_mutex_unlock(&d->order_lock);
    w->stats.order_wait_us += (lockwait_now_ns() - t0) / 1000;
}

static void order_wait(struct worker *w, bool answers)
{
    /* every frame up to the last that may answer; the current one when it is that frame */
    uint64_t upto = !answers || w->answers_seq >= w->order_seq ? w->order_seq : w->answers_seq + 1;
    order_wait_for(w, upto);
}
