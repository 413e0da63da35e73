#include <stdlib.h>
#include <string.h>

#include "rpcsentry/config.h"
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
    /* out of order: the sequence numbers of the segment these bytes came from (the overlap
       policies compare segments, not the pieces holes cut them into); held beyond the
       window: from is 1 when the bytes were a zero-window probe */
    uint32_t from, to;
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
    /* the receiver's window, per sender: the right edge (its ACK + its window, scaled), the
       highest seen, as a receiver never shrinks it (RFC 9293 3.8.6.2.2) */
    uint8_t edge_known;  /* bit per sender */
    uint8_t zero_window; /* bit per sender: the receiver's latest window was 0 */
    uint32_t edge[2];
    /* bytes that came beyond that edge, tentative (sorted, non-overlapping): replaced by a
       copy that comes in window, delivered once the receiver acknowledges them; within the
       out-of-order cap with the out-of-order bytes, given up under the memcap */
    struct tcp_seg *held[2];
    uint32_t held_bytes[2];
    /* the last of held[ep] when known (NULL: walk to find it): a sender far past the window
       (a bulk write before any ACK) holds hundreds of segments, each new one past the last */
    struct tcp_seg *held_last[2];
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

static void held_free(struct worker *w, struct tcp_session *s, int ep, struct tcp_seg *g)
{
    s->held_bytes[ep] -= g->len;
    mem_free(&w->mem, MEM_STREAM, g, sizeof *g + g->len);
}

static void session_free(struct worker *w, struct flow *f)
{
    struct tcp_session *s = f->tcp;
    if (!s)
        return;
    for (int ep = 0; ep < 2; ep++) {
        while (s->held[ep]) {
            struct tcp_seg *g = s->held[ep];
            s->held[ep] = g->next;
            held_free(w, s, ep, g);
        }
        s->held_last[ep] = NULL;
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
    g->from = seq;
    g->to = seq + n;
    memcpy(g->data, d, n);
    return g;
}

/*
 * Whether a segment [ns, ne) takes the bytes it shares with an older one [os, oe) waiting out
 * of order, as the policy's host does (the facts of Suricata's stream.reassembly policies, after
 * Novak and Sturges, "Target-Based TCP Stream Reassembly", 2007; README says each in words).
 */
static bool new_wins(uint8_t policy, uint32_t ns, uint32_t ne, uint32_t os, uint32_t oe)
{
    int32_t start = seq_diff(ns, os), end = seq_diff(ne, oe);
    switch (policy) {
    case TCP_OVERLAP_LAST: return true;
    case TCP_OVERLAP_WINDOWS:
    case TCP_OVERLAP_BSD: return start < 0; /* it begins before the older one */
    case TCP_OVERLAP_LINUX:
        return start < 0 || (start == 0 && end > 0); /* or begins with it and goes further */
    case TCP_OVERLAP_OLD_LINUX: return start < 0 || (start == 0 && end >= 0);
    case TCP_OVERLAP_SOLARIS:
        return start > 0 ? end > 0 : end >= 0; /* it reaches the older one's end */
    default: return false;                     /* first */
    }
}

static const char *const overlap_reasons[] = {
    [TCP_OVERLAP_WINDOWS] = "overlapping segments with different data; kept as Windows does",
    [TCP_OVERLAP_LINUX] = "overlapping segments with different data; kept as Linux does",
    [TCP_OVERLAP_BSD] = "overlapping segments with different data; kept as BSD does",
    [TCP_OVERLAP_OLD_LINUX] = "overlapping segments with different data; kept as old Linux does",
    [TCP_OVERLAP_SOLARIS] = "overlapping segments with different data; kept as Solaris does",
    [TCP_OVERLAP_FIRST] = "overlapping segments with different data; first data kept",
    [TCP_OVERLAP_LAST] = "overlapping segments with different data; last data kept",
};

/*
 * Buffers [seq, seq+n): the parts not yet covered by buffered segments are
 * added; where it covers buffered bytes with other bytes, the overlap policy
 * says whose are kept. Returns false when refused by a cap.
 */
static bool ooo_insert(struct worker *w, struct flow *f, int ep, uint32_t seq, const uint8_t *d,
                       uint32_t n)
{
    struct tcp_session *s = f->tcp;
    struct tcp_seg **pp = &s->ooo[ep];
    bool conflict = false, overlap = false, replaced = false;
    uint8_t policy = w->cfg->tcp_overlap_policy;
    uint32_t from = seq, to = seq + n;
    while (n > 0) {
        /* skip buffered segments that end before us */
        while (*pp && seq_diff((*pp)->seq + (*pp)->len, seq) <= 0)
            pp = &(*pp)->next;
        struct tcp_seg *cur = *pp;
        if (cur && seq_diff(cur->seq, seq) <= 0) {
            /* we start inside cur: that part is already there (first wins) */
            uint32_t in = cur->seq + cur->len - seq;
            uint32_t take = in < n ? in : n;
            uint8_t *old = cur->data + (seq - cur->seq);
            overlap = true;
            if (memcmp(old, d, take) != 0) {
                conflict = true;
                if (new_wins(policy, from, to, cur->from, cur->to)) {
                    memcpy(old, d, take);
                    replaced = true;
                    if (take == cur->len) { /* all its bytes are the new segment's now */
                        cur->from = from;
                        cur->to = to;
                    }
                }
            }
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
        g->from = from;
        g->to = to;
        g->next = cur;
        *pp = g;
        s->ooo_bytes[ep] += take;
        s->ooo_segs[ep]++;
        pp = &g->next;
        seq += take, d += take, n -= take;
    }
    if (overlap)
        w->stats.tcp_overlaps++;
    if (replaced)
        w->stats.tcp_overlap_new_kept++;
    if (conflict)
        f->ref.overlap_conflict = true; /* every call completed from now on says so */
    if (conflict)
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_OVERLAP,
                      overlap_reasons[policy <= TCP_OVERLAP_LAST ? policy : TCP_OVERLAP_FIRST]);
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

/*
 * The advertised window. Followed only where its state is known: both SYNs
 * seen, or one that offered no window scale (then no scaling is possible, RFC
 * 7323: it is used only when both SYNs carry the option); picked up mid-stream,
 * never. And only once the receiver has been seen to advertise one.
 */
static bool window_followed(const struct flow *f)
{
    bool s0 = f->flags_seen[0] & TCP_SYN, s1 = f->flags_seen[1] & TCP_SYN;
    if (s0 && s1)
        return true;
    if (!s0 && !s1)
        return false;
    return ((f->wscale >> (s0 ? 0 : 4)) & 0xf) == 0;
}

/* The shift receiver r's windows are scaled by: its SYN's option, when both SYNs had one. */
static unsigned window_shift(const struct flow *f, int r)
{
    unsigned a = f->wscale & 0xf, b = f->wscale >> 4;
    if (!a || !b)
        return 0;
    return (r ? b : a) - 1;
}

/* Receiver r's ACK and window (p): the right edge of what its peer may send. */
static void window_update(struct tcp_session *s, const struct flow *f, const struct packet *p,
                          int r)
{
    int snd = 1 - r;
    uint8_t bit = (uint8_t)(1u << snd);
    uint64_t win = p->tcp_window;
    if (!(p->tcp_flags & TCP_SYN)) /* a SYN's window is never scaled */
        win <<= window_shift(f, r);
    uint32_t edge = p->ack + (uint32_t)win;
    if (!(s->edge_known & bit) || seq_diff(edge, s->edge[snd]) > 0)
        s->edge[snd] = edge;
    s->edge_known |= bit;
    if (win == 0)
        s->zero_window |= bit;
    else
        s->zero_window &= (uint8_t)~bit;
}

enum { HELD_CUT = 1, HELD_DIFFER = 2, HELD_PROBE = 4 };

/*
 * Takes [seq, seq+n) out of ep's held bytes; d, when given, is the copy that
 * replaces them (compared). Returns HELD_* bits: some were there, some
 * differed, some were a zero-window probe. Pieces left on either side are
 * copied anew (a rare path: only a resend of held bytes comes here).
 */
static unsigned held_cut(struct worker *w, struct tcp_session *s, int ep, uint32_t seq, uint32_t n,
                         const uint8_t *d)
{
    unsigned out = 0;
    uint32_t end = seq + n;
    const struct tcp_seg *last = s->held_last[ep];
    if (!s->held[ep] || (last && seq_diff(seq, last->seq + last->len) >= 0))
        return 0; /* nothing held at or past seq */
    s->held_last[ep] = NULL;
    struct tcp_seg **pp = &s->held[ep];
    while (*pp) {
        struct tcp_seg *g = *pp;
        uint32_t gend = g->seq + g->len;
        if (seq_diff(gend, seq) <= 0) {
            pp = &g->next;
            continue;
        }
        if (seq_diff(g->seq, end) >= 0)
            break;
        uint32_t lo = seq_diff(g->seq, seq) > 0 ? g->seq : seq;
        uint32_t hi = seq_diff(gend, end) < 0 ? gend : end;
        out |= HELD_CUT | (g->from ? HELD_PROBE : 0);
        if (d && memcmp(g->data + (lo - g->seq), d + (lo - seq), hi - lo) != 0)
            out |= HELD_DIFFER;
        struct tcp_seg *head = lo != g->seq ? seg_new(w, g->seq, g->data, lo - g->seq) : NULL;
        struct tcp_seg *tail =
            hi != gend ? seg_new(w, hi, g->data + (hi - g->seq), gend - hi) : NULL;
        if ((lo != g->seq && !head) || (hi != gend && !tail))
            w->stats.tcp_window_discarded++; /* no memory for what is left of it */
        struct tcp_seg *rest = g->next;
        uint32_t probe = g->from;
        held_free(w, s, ep, g);
        if (tail) {
            tail->next = rest;
            tail->from = probe;
            s->held_bytes[ep] += tail->len;
            rest = tail;
        }
        if (head) {
            head->next = rest;
            head->from = probe;
            s->held_bytes[ep] += head->len;
            rest = head;
        }
        *pp = rest;
        if (head)
            pp = &head->next;
        if (tail)
            pp = &tail->next;
    }
    return out;
}

/* Holds [seq, seq+n) of ep, which came beyond the receiver's window (a later copy replaces
   an earlier one: the host took neither, and the latest is the nearer to what it took). */
static void held_put(struct worker *w, struct flow *f, int ep, uint32_t seq, const uint8_t *d,
                     uint32_t n, bool probe)
{
    struct tcp_session *s = f->tcp;
    held_cut(w, s, ep, seq, n, NULL);
    struct tcp_seg *g = NULL;
    bool room = (uint64_t)s->held_bytes[ep] + s->ooo_bytes[ep] + n <= w->cfg->stream_ooo_max;
    if (room && !(g = seg_new(w, seq, d, n)) && s->held[ep]) {
        /* the memcap: this direction gives up what it holds, as its out-of-order buffer
           gives up its oldest hole (what the receiver acknowledges of it later is a gap) */
        while (s->held[ep]) {
            struct tcp_seg *x = s->held[ep];
            s->held[ep] = x->next;
            held_free(w, s, ep, x);
            w->stats.tcp_window_discarded++;
        }
        s->held_last[ep] = NULL;
        g = seg_new(w, seq, d, n);
    }
    if (!g) { /* no room: what the receiver acknowledges of it later is a gap */
        w->stats.tcp_window_discarded++;
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_BEYOND_WINDOW,
                      "data beyond the receiver's window not kept (memory)");
        return;
    }
    g->from = probe;
    struct tcp_seg *last = s->held_last[ep];
    struct tcp_seg **pp = last && seq_diff(last->seq, seq) < 0 ? &last->next : &s->held[ep];
    while (*pp && seq_diff((*pp)->seq, seq) < 0)
        pp = &(*pp)->next;
    g->next = *pp;
    *pp = g;
    if (!g->next)
        s->held_last[ep] = g;
    s->held_bytes[ep] += n;
}

/* The receiver acknowledged up to ack: held bytes of ep before it are what it took (the
   capture missed the window update that let them in): they are delivered now. */
static void held_take(struct worker *w, struct flow *f, int ep, uint32_t ack)
{
    while (f->tcp && !ignored(f) && f->tcp->held[ep] && seq_diff(ack, f->tcp->held[ep]->seq) > 0) {
        struct tcp_session *s = f->tcp;
        struct tcp_seg *g = s->held[ep];
        uint32_t take = seq_diff(ack, g->seq + g->len) >= 0 ? g->len : ack - g->seq;
        s->held[ep] = g->next;
        if (s->held_last[ep] == g)
            s->held_last[ep] = NULL;
        if (take < g->len) {
            struct tcp_seg *rest = seg_new(w, g->seq + take, g->data + take, g->len - take);
            if (rest) {
                rest->from = g->from;
                rest->next = s->held[ep];
                s->held[ep] = rest;
                s->held_bytes[ep] += rest->len;
            }
        }
        s->held_bytes[ep] -= g->len;
        w->stats.tcp_window_acked++;
        anomaly_raise(w, &f->ref, &f->anomalies_seen, ANOM_STREAM_WINDOW_UNSEEN, NULL);
        segment(w, f, ep, g->seq, g->data, take);
        mem_free(&w->mem, MEM_STREAM, g, sizeof *g + g->len);
    }
}

/*
 * Data of ep at seq that reaches past the receiver's window: the part beyond
 * it is held (a zero-window probe too: the window 0, a byte at the next
 * expected sequence number). Returns how many bytes from seq are in window.
 */
static uint32_t window_clip(struct worker *w, struct flow *f, int ep, uint32_t seq,
                            const uint8_t *d, uint32_t n)
{
    struct tcp_session *s = f->tcp;
    uint8_t bit = (uint8_t)(1u << ep);
    uint32_t edge = s->edge[ep];
    if (seq_diff(f->next_seq[ep], edge) > 0) /* behind what was taken: the state is stale */
        edge = f->next_seq[ep];
    int32_t room = seq_diff(edge, seq);
    if (room >= 0 && (uint32_t)room >= n)
        return n;
    uint32_t keep = room > 0 ? (uint32_t)room : 0;
    bool probe = (s->zero_window & bit) && seq + keep == f->next_seq[ep] && n - keep == 1;
    if (probe)
        w->stats.tcp_zero_window_probes++;
    else
        w->stats.tcp_window_held++;
    held_put(w, f, ep, seq + keep, d + keep, n - keep, probe);
    return keep;
}

/* In-window data of ep at seq: held bytes it covers were not what the host took; it is. */
static void held_replace(struct worker *w, struct flow *f, int ep, uint32_t seq, const uint8_t *d,
                         uint32_t n)
{
    unsigned r = held_cut(w, f->tcp, ep, seq, n, d);
    if (!(r & HELD_CUT))
        return;
    w->stats.tcp_window_replaced++;
    if (r & HELD_DIFFER)
        anomaly_raise(w, &f->ref, &f->anomalies_seen,
                      (r & HELD_PROBE) ? ANOM_STREAM_ZERO_WINDOW_PROBE : ANOM_STREAM_BEYOND_WINDOW,
                      (r & HELD_PROBE)
                          ? "a zero-window probe's byte differs from the one the receiver took"
                          : "data beyond the receiver's window differs from what it took");
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
    /* a flow the transport decodes follows the window: its state is allocated now (a flow
       still probed or ignored costs nothing but the scale nibbles the SYNs left) */
    if (!f->tcp && f->app != FLOW_APP_UNKNOWN)
        session_get(w, f);
    if (p->tcp_flags & TCP_SYN) {
        f->wscale = (uint8_t)((f->wscale & ~(0xf << (4 * ep))) | (p->tcp_wscale << (4 * ep)));
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
    if ((p->tcp_flags & TCP_ACK) && f->tcp) {
        if (f->tcp->held[other])
            held_take(w, f, other, p->ack);
        if (f->tcp)
            window_update(f->tcp, f, p, ep);
    }
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
    const uint8_t *data = p->payload;
    if (f->tcp && (f->tcp->edge_known & bit) && window_followed(f))
        n = window_clip(w, f, ep, seq, data, n);
    if (n && f->tcp && f->tcp->held[ep])
        held_replace(w, f, ep, seq, data, n);
    if (n)
        segment(w, f, ep, seq, data, n);
    if (ignored(f) && f->tcp)
        session_free(w, f);
}

void stream_prefetch(const struct flow *f, int step)
{
    /* the session's two lines with the transport's state: every segment of a decoded flow
       reads its held, out-of-order and SYN-data lists (cachegrind on the RPC-dense bench
       input: 9% of the last-level read misses were these, in stream_packet) */
    if (step == 0 && f->tcp) {
        __builtin_prefetch(f->tcp);
        __builtin_prefetch((const char *)f->tcp + 64);
    }
    transport_prefetch(f, step);
}

void stream_flow_end(struct worker *w, struct flow *f)
{
    /* held beyond the window and never acknowledged: not the receiver's */
    for (int ep = 0; ep < 2; ep++)
        for (struct tcp_seg *g = f->tcp ? f->tcp->held[ep] : NULL; g && !ignored(f); g = g->next) {
            w->stats.tcp_window_discarded++;
            anomaly_raise(w, &f->ref, &f->anomalies_seen,
                          g->from ? ANOM_STREAM_ZERO_WINDOW_PROBE : ANOM_STREAM_BEYOND_WINDOW,
                          "data beyond the receiver's window it never acknowledged");
        }
    for (int ep = 0; ep < 2; ep++)
        while (f->tcp && f->tcp->ooo[ep] && !ignored(f))
            skip_gap(w, f, ep);
    session_free(w, f);
    if (f->app_state || f->app != FLOW_APP_UNKNOWN)
        transport_end(w, f);
}
