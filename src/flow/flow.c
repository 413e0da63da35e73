#include "rpcsentry/flow.h"
#include "rpcsentry/appid.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rpcsentry/cursor.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/packet.h"
#include "rpcsentry/stream.h"
#include "rpcsentry/worker.h"

/*
 * Records come from 2 MiB slabs mapped on their own and advised to be one
 * huge page: thousands of flows touched at random then cost no TLB misses
 * (under a hypervisor a miss is a two-level page walk). The first 64 bytes
 * of a slab are its header; records follow on 64-byte boundaries and are
 * handed out in order, so a slab's untouched part costs no memory. The
 * memcap is charged FLOW_CHARGE records at a time as they are first handed
 * out, and kept: flows reuse their own records under the cap, and what is
 * left below it stays for the state of the flows being decoded.
 */
#define SLAB_BYTES ((size_t)2 << 20)
#define SLAB_HEADER 64
#define SLAB_RECS ((SLAB_BYTES - SLAB_HEADER) / sizeof(struct flow))
#define FLOW_CHARGE 256
#define LRU_COARSE_US 1000000 /* a flow moves to the head of the LRU list once a second */
#define SWEEP_INTERVAL_US 1000000
#define SWEEP_MAX_SKIP 64 /* idle-but-not-expired records looked past per sweep */

struct flow_slab {
    struct flow_slab *next;
};

static struct flow *slab_recs(struct flow_slab *s)
{
    return (struct flow *)(void *)((char *)s + SLAB_HEADER);
}

/* A 2 MiB-aligned mapping of SLAB_BYTES, zeroed; NULL when the system has no memory. */
static struct flow_slab *slab_map(void)
{
    size_t span = 2 * SLAB_BYTES;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)p + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + SLAB_BYTES < p + span)
        munmap(a + SLAB_BYTES, (size_t)(p + span - (a + SLAB_BYTES)));
    (void)madvise(a, SLAB_BYTES, MADV_HUGEPAGE); /* a hint: without THP, 4 KiB pages */
    return (struct flow_slab *)(void *)a;
}

/*
 * The table grows as flows come: past two flows a bucket it doubles, up to a bucket for
 * two of --flow-max, without a pause. The new array takes new flows at once and the old
 * one's buckets move over a few at each packet (FLOW_GROW_STEP); a flow is always in the
 * chain chain_of() names, so a lookup reads one chain whether or not its bucket has moved.
 */
#define FLOW_GROW_STEP 16

struct flow_table {
    struct flow **buckets;
    uint32_t mask;
    uint32_t count;
    struct flow **old; /* the array being emptied into buckets, or NULL */
    uint32_t old_mask; /* its size - 1 */
    uint32_t migrated; /* its buckets moved so far */
    uint32_t max_mask; /* the size it grows to at most - 1 */
    struct flow *lru_head, *lru_tail;
    struct flow *free_list;
    struct flow_slab *slabs;
    struct flow *fresh, *fresh_end; /* the newest slab's records not handed out yet */
    size_t handed, charged;         /* records handed out of slabs, and charged for */
    uint64_t last_sweep_us;
};

static void appid_due(struct worker *w, struct flow *f);

struct flow_table *flow_table_new(struct worker *w)
{
    struct flow_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    w->appid_due = appid_due; /* the probe's call for a held packet (worker.h) */
    uint32_t n = 1024;
    while (n < w->cfg->flow_hash_size && n < (1u << 30))
        n <<= 1;
    t->buckets = mem_calloc(&w->mem, MEM_FLOW, (size_t)n * sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    uint32_t max = n;
    while (max < w->cfg->flow_max / 2 && max < (1u << 30))
        max <<= 1;
    t->max_mask = max - 1;
    return t;
}

/* The chain a flow of hash h is in: its bucket of the old array until that one has moved. */
static inline struct flow **chain_of(const struct flow_table *t, uint64_t h)
{
    if (__builtin_expect(t->old != NULL, 0) && (uint32_t)(h & t->old_mask) >= t->migrated)
        return &t->old[h & t->old_mask];
    return &t->buckets[h & t->mask];
}

/* Moves up to n buckets of the old array; frees it once empty. */
static void grow_step(struct worker *w, struct flow_table *t, unsigned n)
{
    while (n-- && t->migrated <= t->old_mask) {
        struct flow *f = t->old[t->migrated];
        t->old[t->migrated++] = NULL;
        while (f) {
            struct flow *next = f->hnext;
            struct flow **b = &t->buckets[f->hash & t->mask];
            f->hnext = *b;
            *b = f;
            f = next;
        }
    }
    if (t->migrated > t->old_mask) {
        mem_free(&w->mem, MEM_FLOW, t->old, (size_t)(t->old_mask + 1) * sizeof *t->old);
        t->old = NULL;
    }
}

/* Past two flows a bucket, a twice larger array (when the memcap allows): moved into over
 * the next packets. */
static void grow_start(struct worker *w, struct flow_table *t)
{
    uint32_t n = (t->mask + 1) * 2;
    struct flow **b = mem_calloc(&w->mem, MEM_FLOW, (size_t)n * sizeof *b);
    if (!b)
        return;
    t->old = t->buckets;
    t->old_mask = t->mask;
    t->migrated = 0;
    t->buckets = b;
    t->mask = n - 1;
    w->stats.flow_table_grown++;
}

uint32_t flow_table_count(const struct flow_table *t)
{
    return t->count;
}

/* memcmp(a, b, 16)'s sign, as two loads of eight bytes each in big-endian order (the
   call to memcmp was a fifth of building a key) */
static inline int addr_order(const uint8_t *a, const uint8_t *b)
{
    uint64_t a0 = be64_at(a), b0 = be64_at(b);
    if (a0 != b0)
        return a0 < b0 ? -1 : 1;
    uint64_t a1 = be64_at(a + 8), b1 = be64_at(b + 8);
    return (a1 > b1) - (a1 < b1);
}

void flow_key_from_packet(const struct packet *p, struct flow_key *k, bool *swapped)
{
    memset(k, 0, sizeof *k);
    int c = addr_order(p->src, p->dst);
    bool swap = c > 0 || (c == 0 && p->sport > p->dport);
    if (!swap) {
        memcpy(k->addr[0], p->src, 16), memcpy(k->addr[1], p->dst, 16);
        k->port[0] = p->sport, k->port[1] = p->dport;
    } else {
        memcpy(k->addr[0], p->dst, 16), memcpy(k->addr[1], p->src, 16);
        k->port[0] = p->dport, k->port[1] = p->sport;
    }
    k->proto = p->proto;
    k->ipver = p->ipver;
    k->vlan = p->key_vlan;
    if (swapped)
        *swapped = swap;
}

int flow_packet_ep(const struct flow *f, const struct packet *p)
{
    const struct flow_key *k = &f->ref.key;
    return (memcmp(k->addr[0], p->src, 16) == 0 && k->port[0] == p->sport) ? 0 : 1;
}

static void lru_unlink(struct flow_table *t, struct flow *f)
{
    if (f->lru_prev)
        f->lru_prev->lru_next = f->lru_next;
    else
        t->lru_head = f->lru_next;
    if (f->lru_next)
        f->lru_next->lru_prev = f->lru_prev;
    else
        t->lru_tail = f->lru_prev;
    f->lru_prev = f->lru_next = NULL;
}

static void lru_push_head(struct flow_table *t, struct flow *f)
{
    f->lru_prev = NULL;
    f->lru_next = t->lru_head;
    if (t->lru_head)
        t->lru_head->lru_prev = f;
    t->lru_head = f;
    if (!t->lru_tail)
        t->lru_tail = f;
}

/* What the `flow` record of f says, nDPI's verdict included. */
static void flow_summarise(const struct worker *w, const struct flow *f, enum flow_end_reason why,
                           struct flow_summary *s)
{
    memset(s, 0, sizeof *s);
    s->ref = &f->ref;
    s->first_us = f->first_us;
    s->last_us = f->last_us;
    for (int ep = 0; ep < 2; ep++) {
        s->bytes[ep] = f->bytes[ep];
        s->pkts[ep] = f->pkts[ep];
        s->flags_seen[ep] = f->flags_seen[ep];
    }
    s->closed = f->closed;
    s->reason = (int)why;
    s->app_proto = appid_app_proto(w, f);
    s->ndpi = appid_ndpi(w, f, s->ndpi_protocol, sizeof s->ndpi_protocol, &s->ndpi_category,
                         &s->ndpi_guessed);
}

static void flow_end(struct worker *w, struct flow *f, enum flow_end_reason why)
{
    struct flow_table *t = w->flows;
    appid_flow_end(w, f);
    if (w->cfg->log_flows && w->on_flow_end) {
        struct flow_summary s;
        flow_summarise(w, f, why, &s);
        w->on_flow_end(w, &s);
    }
    stream_flow_end(w, f);
    if (w->on_flow_close) /* the pcap log, once the flow's last calls are done */
        w->on_flow_close(w, f);
    struct flow **pp = chain_of(t, f->hash);
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    lru_unlink(t, f);
    t->count--;
    switch (why) {
    case FLOW_END_TIMEOUT: w->stats.flows_timed_out++; break;
    case FLOW_END_EVICTED: w->stats.flows_evicted++; break;
    case FLOW_END_CLOSED: w->stats.flows_closed++; break;
    case FLOW_END_FLUSH: w->stats.flows_flushed++; break;
    }
    f->hnext = t->free_list;
    t->free_list = f;
}

static struct flow *flow_alloc(struct worker *w)
{
    struct flow_table *t = w->flows;
    if (t->count >= w->cfg->flow_max && t->lru_tail) {
        w->stats.flows_memcap++;
        flow_end(w, t->lru_tail, FLOW_END_EVICTED);
    }
    if (!t->free_list) {
        bool ok = t->handed < t->charged;
        if (!ok && mem_charge(&w->mem, MEM_FLOW, FLOW_CHARGE * sizeof(struct flow))) {
            t->charged += FLOW_CHARGE;
            ok = true;
        }
        if (ok && t->fresh == t->fresh_end) {
            struct flow_slab *s = slab_map();
            if (s) {
                s->next = t->slabs;
                t->slabs = s;
                t->fresh = slab_recs(s);
                t->fresh_end = t->fresh + SLAB_RECS;
            } else {
                ok = false;
            }
        }
        if (!ok) {
            /* memcap: reuse the least recently seen flow */
            w->stats.flows_memcap++;
            if (!t->lru_tail)
                return NULL;
            flow_end(w, t->lru_tail, FLOW_END_EVICTED);
        } else {
            t->fresh->hnext = NULL;
            t->free_list = t->fresh++;
            t->handed++;
        }
    }
    struct flow *f = t->free_list;
    t->free_list = f->hnext;
    memset(f, 0, sizeof *f);
    return f;
}

static uint32_t flow_timeout(const struct worker *w, const struct flow *f)
{
    const struct config *c = w->cfg;
    if (f->ref.key.proto != IPPROTO_TCP)
        return c->udp_timeout;
    if (f->closed)
        return c->tcp_timeout_closed;
    if (f->pkts[0] && f->pkts[1] && (f->flags_seen[0] | f->flags_seen[1]) & TCP_ACK)
        return c->tcp_timeout_est;
    return c->tcp_timeout_new;
}

void flow_expire(struct worker *w, uint64_t now_us)
{
    struct flow_table *t = w->flows;
    uint64_t min_to = w->cfg->tcp_timeout_closed;
    if (w->cfg->tcp_timeout_new < min_to)
        min_to = w->cfg->tcp_timeout_new;
    if (w->cfg->udp_timeout < min_to)
        min_to = w->cfg->udp_timeout;
    min_to *= 1000000;
    int skipped = 0;
    struct flow *f = t->lru_tail;
    while (f && f->last_us + min_to < now_us && skipped < SWEEP_MAX_SKIP) {
        struct flow *prev = f->lru_prev;
        if (f->last_us + (uint64_t)flow_timeout(w, f) * 1000000 < now_us)
            flow_end(w, f, f->closed ? FLOW_END_CLOSED : FLOW_END_TIMEOUT);
        else
            skipped++;
        f = prev;
    }
}

void flow_flush_all(struct worker *w)
{
    struct flow_table *t = w->flows;
    w->frame_may_answer = true; /* the capture's end: what the flows held is delivered now */
    /* oldest first, so records come out roughly in the order flows began to idle */
    while (t->lru_tail)
        flow_end(w, t->lru_tail, FLOW_END_FLUSH);
}

void flow_table_free(struct worker *w, struct flow_table *t)
{
    if (!t)
        return;
    struct flow_table *saved = w->flows;
    w->flows = t;
    flow_flush_all(w);
    w->flows = saved;
    while (t->slabs) {
        struct flow_slab *s = t->slabs;
        t->slabs = s->next;
        munmap(s, SLAB_BYTES);
    }
    mem_release(&w->mem, MEM_FLOW, t->charged * sizeof(struct flow));
    mem_free(&w->mem, MEM_FLOW, t->buckets, (size_t)(t->mask + 1) * sizeof *t->buckets);
    if (t->old)
        mem_free(&w->mem, MEM_FLOW, t->old, (size_t)(t->old_mask + 1) * sizeof *t->old);
    free(t);
}

static inline void flow_packet_in(struct worker *w, struct flow *f, const struct packet *p,
                                  bool tcp);

static uint64_t flow_make_id(const struct flow_key *k, uint64_t first_us)
{
    uint8_t b[sizeof *k + 8];
    memcpy(b, k, sizeof *k);
    memcpy(b + sizeof *k, &first_us, 8);
    uint64_t id = hash64(b, sizeof b, 0x666c6f7769640a00ULL) & ((1ULL << 51) - 1);
    return id ? id : 1;
}

/* Is f the flow of key k? (the key is on the line the chain just read) */
static inline bool key_is(const struct flow *f, const struct flow_key *k)
{
    return memcmp(&f->ref.key, k, sizeof *k) == 0;
}

static struct flow *flow_lookup(struct worker *w, const struct flow_key *k, uint64_t h)
{
    struct flow_table *t = w->flows;
    for (struct flow *f = *chain_of(t, h); f; f = f->hnext)
        if (key_is(f, k))
            return f;
    return NULL;
}

uint64_t flow_key_hash(const struct worker *w, const struct flow_key *k)
{
    _Static_assert(sizeof *k == 40, "a flow key is five words");
    return hash_words5(k, w->cfg->hash_seed);
}

int flow_prefetch(struct worker *w, const struct packet *p, const struct flow_key *k, uint64_t h,
                  int stage, const struct flow **cand)
{
    const struct flow_table *t = w->flows;
    const struct flow *f = *cand;
    /*
     * A frame processed between two stages may end the candidate's flow. Reading it stays
     * sound: flow records live in slabs that are unmapped only with the table, a record is
     * zeroed when handed out again, and ending a flow clears its app_state and tcp before
     * the record joins the free list. So a later stage reads NULL, or a newer flow's
     * pointers, and only prefetches through them: a wasted fetch, never a wrong record.
     */
    switch (stage) {
    case FLOW_PREFETCH_BUCKET: __builtin_prefetch(chain_of(t, h)); return FLOW_PREFETCH_HEAD;
    case FLOW_PREFETCH_HEAD: f = *chain_of(t, h); break;
    case FLOW_PREFETCH_MATCH:
        if (!f)
            return FLOW_PREFETCH_DONE;
        if (!key_is(f, k)) {
            f = f->hnext; /* another flow's: the next of the chain */
            break;
        }
        /* a packet that moves its flow to the head of the LRU list (once a second) writes
           its neighbours' links: with a million flows open they are anywhere */
        if (t->lru_head != f && p->ts_us >= f->lru_us + LRU_COARSE_US) {
            if (f->lru_prev)
                __builtin_prefetch(&f->lru_prev->lru_next, 1);
            if (f->lru_next)
                __builtin_prefetch(&f->lru_next->lru_prev, 1);
        }
        stream_prefetch(f, 0);
        return FLOW_PREFETCH_ENGINE;
    case FLOW_PREFETCH_ENGINE:
        if (f)
            stream_prefetch(f, 1);
        return FLOW_PREFETCH_DONE;
    default: return FLOW_PREFETCH_DONE;
    }
    *cand = f;
    if (!f)
        return FLOW_PREFETCH_DONE;
    /* the lookup reads line 0, every packet writes line 1, the stages behind read line 2 */
    __builtin_prefetch(f);
    __builtin_prefetch((const char *)f + 64);
    __builtin_prefetch((const char *)f + 128);
    return FLOW_PREFETCH_MATCH;
}

void flow_packet(struct worker *w, const struct packet *p)
{
    struct flow_key k;
    flow_key_from_packet(p, &k, NULL);
    flow_packet_keyed(w, p, &k, flow_key_hash(w, &k));
}

void flow_packet_keyed(struct worker *w, const struct packet *p, const struct flow_key *key,
                       uint64_t h)
{
    struct flow_table *t = w->flows;
    if (p->ts_us >= t->last_sweep_us + SWEEP_INTERVAL_US) {
        flow_expire(w, p->ts_us);
        t->last_sweep_us = p->ts_us;
    }

    if (__builtin_expect(t->old != NULL, 0))
        grow_step(w, t, FLOW_GROW_STEP);
    struct flow *f = flow_lookup(w, key, h);

    bool tcp = p->proto == IPPROTO_TCP;
    bool syn_only = tcp && (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;
    if (f && syn_only && (f->closed || (f->flags_seen[flow_packet_ep(f, p)] & TCP_FIN))) {
        /* the port pair is being reused by a new connection */
        flow_end(w, f, FLOW_END_CLOSED);
        f = NULL;
    }
    if (!f) {
        f = flow_alloc(w);
        if (!f)
            return;
        f->ref.key = *key;
        f->hash = h;
        f->first_us = p->ts_us;
        f->ref.flow_id = flow_make_id(key, p->ts_us);
        f->ref.client = FLOW_CLIENT_UNKNOWN;
        f->ref.vlan = p->vlan_cnt ? p->vlan[0] : 0;
        struct flow **b = chain_of(t, h);
        f->hnext = *b;
        *b = f;
        t->count++;
        if (!t->old && t->count > 2 * (t->mask + 1) && t->mask < t->max_mask)
            grow_start(w, t);
        w->stats.flows_created++;
        lru_push_head(t, f);
        f->lru_us = p->ts_us;
    } else if (t->lru_head != f && p->ts_us >= f->lru_us + LRU_COARSE_US) {
        /*
         * Moving a flow to the head touches its two neighbours' records: at
         * most once a second per flow. The list stays ordered to the second,
         * which delays a timeout by a second at most.
         */
        lru_unlink(t, f);
        lru_push_head(t, f);
        f->lru_us = p->ts_us;
    }

    flow_packet_in(w, f, p, tcp);
    if (w->on_flow_packet) /* the pcap log (-w) */
        w->on_flow_packet(w, f, p);
}

/* nDPI's turn for the packet held back for f (worker.h): once, and appid_packet looks only
   where a verdict will be read. */
static void appid_due(struct worker *w, struct flow *f)
{
    const struct packet *p = w->appid_held;
    w->appid_held = NULL, w->appid_held_flow = NULL;
    appid_packet(w, f, p);
}

/* p, a packet of f, counted and handed on. */
static inline void flow_packet_in(struct worker *w, struct flow *f, const struct packet *p,
                                  bool tcp)
{
    int ep = flow_packet_ep(f, p);
    if (tcp && w->cfg->checksum_checks == CHECKSUM_AUTO && f->app != FLOW_APP_IGNORED &&
        !p->ip_len_fixed) {
        uint8_t bit = (uint8_t)(1u << ep);
        if (packet_checksums_ok(p)) {
            f->checksum_good |= bit;
        } else if (f->checksum_good & bit) {
            /* not offload, which spoils every checksum a host sends: the
               receiver drops this segment, and so do we */
            w->stats.decode_bad_checksum++;
            anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_BAD_CHECKSUM, NULL);
            return;
        }
    }
    f->last_us = p->ts_us;
    f->pkts[ep]++;
    f->bytes[ep] += p->wirelen;
    bool held = false;
    if (w->appid) {
        if (tcp && !w->cfg->log_flows && f->app == FLOW_APP_UNKNOWN) {
            w->appid_held = p, w->appid_held_flow = f;
            held = true;
        } else {
            appid_packet(w, f, p);
        }
    }
    if (!tcp)
        return;

    f->flags_seen[ep] |= p->tcp_flags;
    if (f->ref.client == FLOW_CLIENT_UNKNOWN && (p->tcp_flags & TCP_SYN))
        f->ref.client = (uint8_t)((p->tcp_flags & TCP_ACK) ? 1 - ep : ep);
    if ((f->flags_seen[0] & TCP_FIN) && (f->flags_seen[1] & TCP_FIN))
        f->closed = 1;
    if (p->tcp_flags & TCP_RST) {
        /* RFC 5961, as hosts now do: a reset counts only at the sequence number the
           receiver expects next (after the sender's FIN, one more); another is ignored.
           Flows the stream does not follow (ignored) have no such number: any counts */
        uint8_t bit = (uint8_t)(1u << ep);
        uint32_t next = f->next_seq[ep] + ((f->flags_seen[ep] & TCP_FIN) ? 1 : 0);
        if (f->app == FLOW_APP_IGNORED || !(f->seq_known & bit) || p->seq == next ||
            p->seq == f->next_seq[ep]) {
            f->closed = 1;
        } else {
            w->stats.tcp_rst_ignored++;
            anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_RST_IGNORED, NULL);
        }
    }

    stream_packet(w, f, p, ep);
    if (held && w->appid_held_flow == f)
        appid_due(w, f); /* the probe did not ask: nDPI sees it now, if anyone will read it */
}
