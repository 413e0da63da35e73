#include <stdlib.h>
#include <string.h>

#include "rpcsentry/flow_record.h"
#include "rpcsentry/packet.h"
#include "rpcsentry/stream.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

/* A buffered out-of-order piece: [seq, seq+len). */
struct tcp_seg {
    struct tcp_seg *next;
    uint32_t seq;
    uint32_t len;
    uint8_t data[];
};

struct tcp_session {
    struct tcp_seg *ooo[2]; /* sorted by seq, non-overlapping */
    uint32_t ooo_bytes[2];
    uint32_t ooo_segs[2];
    /* data a SYN carried: held until the peer's answer says whether it took it */
    struct tcp_seg *syn_data[2];
    /* where each direction's FIN is: nothing at or past it is the receiver's */
    uint32_t fin_seq[2];
    uint8_t fin_known; /* bit per endpoint */
    /* the urgent byte each direction last pointed at, not yet delivered: taken out of the
       stream when it is (RFC 6093: the byte before the urgent pointer, out of band) */
    uint32_t urgent_seq[2];
    uint8_t urgent_pending; /* bit per endpoint */
};

#define SYN_DATA_MAX 4096 /* more than a SYN carries (an MSS) */

/* Serial-number arithmetic (RFC 1982) on 32-bit sequence numbers. */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static void seg_free(struct worker *w, struct tcp_session *s, int ep, struct tcp_seg *g)
{
    s->ooo_bytes[ep] -= g->len;
    s->ooo_segs[ep]--;
    mem_free(&w->mem, MEM_STREAM, g, sizeof *g + g->len);
}

static void session_free(struct worker *w, struct flow *f)
{
    struct tcp_session *s = f->tcp;
    if (!s)
        return;
    for (int ep = 0; ep < 2; ep++) {
        while (s->ooo[ep]) {
            struct tcp_seg *g = s->ooo[ep];
            s->ooo[ep] = g->next;
            seg_free(w, s, ep, g);
        }
        if (s->syn_data[ep])
            mem_free(&w->mem, MEM_STREAM, s->syn_data[ep],
                     sizeof *s->syn_data[ep] + s->syn_data[ep]->len);
    }
    mem_free(&w->mem, MEM_STREAM, s, sizeof *s);
    f->tcp = NULL;
}

static bool ignored(const struct flow *f)
{
    return f->app == FLOW_APP_IGNORED;
}

/* In-order bytes [at, at+n) of ep for the transport, the pending urgent byte left out. */
static void deliver(struct worker *w, struct flow *f, int ep, uint32_t at, const uint8_t *d,
                    size_t n)
{
    if (!n || ignored(f))
        return;
    uint8_t bit = (uint8_t)(1u << ep);
    struct tcp_session *s = f->tcp;
    if (s && (s->urgent_pending & bit)) {
        uint32_t u = s->urgent_seq[ep] - at;
        if (seq_diff(s->urgent_seq[ep], at) < 0) {
            s->urgent_pending &= (uint8_t)~bit; /* delivered before it was pointed at */
        } else if (u < n) {
            s->urgent_pending &= (uint8_t)~bit;
            w->stats.tcp_urgent++;
            anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_URGENT, NULL);
            deliver(w, f, ep, at, d, u);
            if (!ignored(f))
                deliver(w, f, ep, at + u + 1, d + u + 1, n - u - 1);
            return;
        }
    }
    f->data_seen |= bit;
    transport_data(w, f, ep, d, n);
}

/* Hands over buffered segments that have become in-order. */
static void drain(struct worker *w, struct flow *f, int ep)
{
    struct tcp_session *s = f->tcp;
    while (s && s->ooo[ep] && seq_diff(s->ooo[ep]->seq, f->next_seq[ep]) <= 0) {
        struct tcp_seg *g = s->ooo[ep];
        s->ooo[ep] = g->next;
        uint32_t end = g->seq + g->len;
        if (seq_diff(end, f->next_seq[ep]) > 0) {
            uint32_t skip = f->next_seq[ep] - g->seq;
            f->next_seq[ep] = end;
            deliver(w, f, ep, g->seq + skip, g->data + skip, g->len - skip);
        }
        seg_free(w, s, ep, g);
        s = f->tcp; /* the transport may have given up on the flow */
    }
}

/* Skips the hole before the first buffered segment and delivers what follows. */
static void skip_gap(struct worker *w, struct flow *f, int ep)
{
    struct tcp_session *s = f->tcp;
    if (!s || !s->ooo[ep])
        return;
    uint32_t gap = s->ooo[ep]->seq - f->next_seq[ep];
    if (seq_diff(s->ooo[ep]->seq, f->next_seq[ep]) > 0) {
        w->stats.tcp_gaps++;
        w->stats.tcp_gap_bytes += gap;
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_GAP, NULL);
        f->next_seq[ep] = s->ooo[ep]->seq;
        if (!ignored(f))
            transport_gap(w, f, ep, gap);
    }
    drain(w, f, ep);
}

static struct tcp_seg *seg_new(struct worker *w, uint32_t seq, const uint8_t *d, uint32_t n)
{
    struct tcp_seg *g = mem_alloc(&w->mem, MEM_STREAM, sizeof *g + n);
    if (!g)
        return NULL;
    g->next = NULL;
    g->seq = seq;
    g->len = n;
    memcpy(g->data, d, n);
    return g;
}

/*
 * Buffers [seq, seq+n) keeping first-arrived bytes: only the parts not yet
 * covered by buffered segments are added. Returns false when refused by a cap.
 */
static bool ooo_insert(struct worker *w, struct flow *f, int ep, uint32_t seq, const uint8_t *d,
                       uint32_t n)
{
    struct tcp_session *s = f->tcp;
    struct tcp_seg **pp = &s->ooo[ep];
    bool conflict = false, overlap = false;
    while (n > 0) {
        /* skip buffered segments that end before us */
        while (*pp && seq_diff((*pp)->seq + (*pp)->len, seq) <= 0)
            pp = &(*pp)->next;
        struct tcp_seg *cur = *pp;
        if (cur && seq_diff(cur->seq, seq) <= 0) {
            /* we start inside cur: that part is already there (first wins) */
            uint32_t in = cur->seq + cur->len - seq;
            uint32_t take = in < n ? in : n;
            overlap = true;
            if (memcmp(cur->data + (seq - cur->seq), d, take) != 0)
                conflict = true;
            seq += take, d += take, n -= take;
            pp = &cur->next;
            continue;
        }
        /* a hole before cur (or the end): fill it */
        uint32_t room = cur ? cur->seq - seq : n;
        uint32_t take = room < n ? room : n;
        if (s->ooo_bytes[ep] + take > w->cfg->stream_ooo_max ||
            s->ooo_segs[ep] + 1 > w->cfg->stream_ooo_segs)
            return false;
        struct tcp_seg *g = seg_new(w, seq, d, take);
        if (!g)
            return false;
        g->next = cur;
        *pp = g;
        s->ooo_bytes[ep] += take;
        s->ooo_segs[ep]++;
        pp = &g->next;
        seq += take, d += take, n -= take;
    }
    if (overlap)
        w->stats.tcp_overlaps++;
    if (conflict)
        f->ref.overlap_conflict = true; /* every call completed from now on says so */
    if (conflict)
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_OVERLAP,
                      "overlapping segments with different data; first data kept");
    return true;
}

static bool session_get(struct worker *w, struct flow *f)
{
    if (f->tcp)
        return true;
    f->tcp = mem_calloc(&w->mem, MEM_STREAM, sizeof *f->tcp);
    return f->tcp != NULL;
}

static void out_of_order(struct worker *w, struct flow *f, int ep, uint32_t seq, const uint8_t *d,
                         uint32_t n)
{
    w->stats.tcp_out_of_order++;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (session_get(w, f) && ooo_insert(w, f, ep, seq, d, n))
            return;
        /* full: give up on the oldest hole and try again */
        w->stats.tcp_ooo_memcap++;
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_OOO_MEMCAP, NULL);
        if (f->tcp && f->tcp->ooo[ep])
            skip_gap(w, f, ep);
        if (ignored(f) || seq_diff(seq, f->next_seq[ep]) <= 0)
            break;
    }
    if (ignored(f))
        return;
    /* still no room: treat everything up to this segment as lost */
    if (seq_diff(seq, f->next_seq[ep]) > 0) {
        uint32_t gap = seq - f->next_seq[ep];
        w->stats.tcp_gaps++;
        w->stats.tcp_gap_bytes += gap;
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_GAP, NULL);
        transport_gap(w, f, ep, gap);
        f->next_seq[ep] = seq;
    }
    uint32_t skip = f->next_seq[ep] - seq;
    if (skip < n) {
        f->next_seq[ep] = seq + n;
        deliver(w, f, ep, seq + skip, d + skip, n - skip);
    }
    drain(w, f, ep);
}

/* A segment's data from ep at seq, as the receiver takes it: in order, ahead, or again. */
static void segment(struct worker *w, struct flow *f, int ep, uint32_t seq, const uint8_t *data,
                    uint32_t n)
{
    uint8_t bit = (uint8_t)(1u << ep);
    struct tcp_session *s = f->tcp;
    if (s && (s->fin_known & bit)) { /* nothing at or after the FIN is the receiver's */
        int32_t room = seq_diff(s->fin_seq[ep], seq);
        if (room <= 0 || (uint32_t)room < n) {
            w->stats.tcp_after_fin++;
            anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_AFTER_FIN, NULL);
            if (room <= 0)
                return;
            n = (uint32_t)room;
        }
    }
    w->stats.tcp_segments++;
    if (!(f->seq_known & bit)) {
        /* picked up mid-stream: this segment is where the direction starts */
        f->next_seq[ep] = seq;
        f->seq_known |= bit;
        w->stats.tcp_midstream++;
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_MIDSTREAM, NULL);
    }

    int32_t d = seq_diff(seq, f->next_seq[ep]);
    if (d > 0) {
        out_of_order(w, f, ep, seq, data, n);
        return;
    }
    uint32_t skip = 0u - (uint32_t)d; /* d may be INT32_MIN: 2^31 behind */
    if (skip >= n) {
        w->stats.tcp_retransmissions++;
        return;
    }
    if (skip)
        w->stats.tcp_overlaps++;
    f->next_seq[ep] = seq + n;
    deliver(w, f, ep, seq + skip, data + skip, n - skip);
    drain(w, f, ep);
}

/* Data on a SYN: kept aside until the peer's SYN-ACK says whether it took it. */
static void syn_data_hold(struct worker *w, struct flow *f, int ep, uint32_t seq, const uint8_t *d,
                          uint32_t n)
{
    if (n > SYN_DATA_MAX || !session_get(w, f))
        n = 0;
    struct tcp_session *s = f->tcp;
    if (!n || s->syn_data[ep])
        return;
    s->syn_data[ep] = seg_new(w, seq, d, n);
}

/* The peer of ep acknowledged up to ack: ep's SYN data counts if that covers it. */
static void syn_data_judge(struct worker *w, struct flow *f, int ep, uint32_t ack)
{
    struct tcp_session *s = f->tcp;
    struct tcp_seg *g = s->syn_data[ep];
    s->syn_data[ep] = NULL;
    if (seq_diff(ack, g->seq + g->len) >= 0) {
        segment(w, f, ep, g->seq, g->data, g->len); /* taken (TCP Fast Open) */
    } else {
        w->stats.tcp_syn_data_ignored++; /* the host did not take it: neither do we */
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_SYN_DATA, NULL);
    }
    mem_free(&w->mem, MEM_STREAM, g, sizeof *g + g->len);
}

void stream_packet(struct worker *w, struct flow *f, const struct packet *p, int ep)
{
    if (ignored(f)) {
        if (f->tcp)
            session_free(w, f);
        return;
    }
    uint8_t bit = (uint8_t)(1u << ep);
    uint32_t seq = p->seq, n = p->payload_len;
    if (p->tcp_flags & TCP_SYN) {
        seq++;
        /* a SYN again with another ISN before any data: the handshake starts over */
        bool restart = (f->seq_known & bit) && seq != f->next_seq[ep] && !(f->data_seen & bit);
        if (restart)
            w->stats.tcp_syn_restarts++;
        if (!(f->seq_known & bit) || restart) {
            f->next_seq[ep] = seq;
            f->seq_known |= bit;
        }
        if (n)
            syn_data_hold(w, f, ep, seq, p->payload, n);
        n = 0;
    }

    int other = 1 - ep;
    if ((p->tcp_flags & TCP_ACK) && f->tcp && f->tcp->syn_data[other])
        syn_data_judge(w, f, other, p->ack);
    /* The peer acknowledged bytes we hold a hole before: they were lost by the capture. */
    if ((p->tcp_flags & TCP_ACK) && f->tcp && f->tcp->ooo[other] &&
        seq_diff(p->ack, f->tcp->ooo[other]->seq) >= 0)
        skip_gap(w, f, other);
    if ((p->tcp_flags & TCP_FIN) && !ignored(f) && session_get(w, f) &&
        !(f->tcp->fin_known & bit)) {
        f->tcp->fin_seq[ep] = seq + n;
        f->tcp->fin_known |= bit;
    }

    if (n == 0 || ignored(f))
        return;
    /* an urgent pointer into this segment or beyond: the byte before it is urgent, and a
       host that leaves SO_OOBINLINE off (the default everywhere) reads it out of band */
    if ((p->tcp_flags & TCP_URG) && p->tcp_urgent && !w->cfg->tcp_urgent_inline &&
        seq_diff(seq + p->tcp_urgent - 1, f->next_seq[ep]) >= 0 && session_get(w, f)) {
        f->tcp->urgent_seq[ep] = seq + p->tcp_urgent - 1;
        f->tcp->urgent_pending |= bit;
    }
    segment(w, f, ep, seq, p->payload, n);
    if (ignored(f) && f->tcp)
        session_free(w, f);
}

void stream_prefetch(const struct flow *f, int step)
{
    transport_prefetch(f, step);
}

void stream_flow_end(struct worker *w, struct flow *f)
{
    for (int ep = 0; ep < 2; ep++)
        while (f->tcp && f->tcp->ooo[ep] && !ignored(f))
            skip_gap(w, f, ep);
    session_free(w, f);
    if (f->app_state || f->app != FLOW_APP_UNKNOWN)
        transport_end(w, f);
}
