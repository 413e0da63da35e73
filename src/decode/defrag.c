/*
 * IPv4 and IPv6 reassembly (RFC 791, RFC 8200), per worker, as the receiving
 * host does it: fragments are kept per datagram (addresses, identification,
 * and for IPv4 the protocol) until the first, the last and every byte
 * between have come; then the datagram is rebuilt (the first fragment's
 * header, or for IPv6 its unfragmentable part, and the data) and decoded
 * like any packet.
 *
 * Where fragments overlap, a target policy says whose bytes the host keeps,
 * per pair of fragments, the older (earlier seen) against the newer:
 *   first: the older; last: the newer;
 *   bsd: the newer when it starts before the older, else the older;
 *   linux: the newer when it starts at or before the older, else the older;
 *   windows (the default): the older, unless the newer starts before it and
 *     ends after it (covers it wholly).
 * (The rules Novak's target-based reassembly paper and Suricata's and
 * Snort's defragmenters give for these systems.) Bytes that differ between
 * overlapping fragments raise defrag.overlap_conflict; a first fragment too
 * short to hold its transport header raises defrag.tiny_first_fragment (and
 * is still used, as the hosts do); a datagram past 65,535 octets raises
 * defrag.too_large and is dropped.
 *
 * Bounded: at most DEFRAG_MAX_FRAGS fragments a datagram, the memory charged
 * to MEM_DEFRAG (its cap is --defrag-memcap; when it refuses, the oldest
 * datagram goes, counted), and a datagram not completed within
 * cfg->defrag_timeout seconds of capture time is dropped and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "decode_internal.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/worker.h"

#define DEFRAG_MAX_FRAGS 256
#define DEFRAG_BUCKETS 1024
#define DEFRAG_MAX_LEN 65535 /* IPv4 total length, IPv6 payload length */
#define DEFRAG_HDR_MAX                                                                             \
    (40 + 512) /* IPv6 header and the extension headers before the fragment                        \
                  header that are kept; IPv4: at most 60 */

struct frag {
    uint32_t off, len; /* octets of the datagram's data */
    uint8_t *data;
};

struct datagram {
    struct datagram *hnext;
    struct datagram *older, *newer; /* by last activity: the oldest times out first */
    uint8_t ipver, proto;
    uint16_t bucket;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint64_t last_us;
    uint32_t end; /* the data's length, once the last fragment came (have_last) */
    bool have_last;
    bool too_short_first; /* its first fragment could not hold the transport header */
    uint8_t hdr[DEFRAG_HDR_MAX];
    uint16_t hdr_len;    /* 0 until the first fragment came */
    uint16_t nh_at;      /* IPv6: where in hdr the next-header octet to rewrite is */
    uint8_t next_header; /* IPv6: the fragment header's next header (first fragment) */
    uint16_t n, cap;
    uint32_t got;       /* data octets received, overlaps counted twice: no assembly below end */
    struct frag *frags; /* in arrival order; cap entries, grown as they come */
};

struct defrag {
    struct datagram *buckets[DEFRAG_BUCKETS];
    struct datagram *oldest, *newest;
    unsigned count;
    uint8_t out[DEFRAG_HDR_MAX + DEFRAG_MAX_LEN]; /* the last datagram rebuilt */
};

static size_t datagram_size(void)
{
    return sizeof(struct datagram);
}

static unsigned bucket_of(const struct packet *p)
{
    uint8_t k[37];
    memcpy(k, p->src, 16), memcpy(k + 16, p->dst, 16);
    memcpy(k + 32, &p->frag_id, 4);
    k[36] = p->ipver;
    return (unsigned)(hash64(k, sizeof k, 0x5bd1e995) % DEFRAG_BUCKETS);
}

static void unlink_age(struct defrag *d, struct datagram *g)
{
    if (g->older)
        g->older->newer = g->newer;
    else
        d->oldest = g->newer;
    if (g->newer)
        g->newer->older = g->older;
    else
        d->newest = g->older;
    g->older = g->newer = NULL;
}

static void push_newest(struct defrag *d, struct datagram *g)
{
    g->older = d->newest;
    g->newer = NULL;
    if (d->newest)
        d->newest->newer = g;
    else
        d->oldest = g;
    d->newest = g;
}

static void drop(struct worker *w, struct defrag *d, struct datagram *g)
{
    struct datagram **pp = &d->buckets[g->bucket];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = g->hnext;
    unlink_age(d, g);
    for (unsigned i = 0; i < g->n; i++)
        mem_free(&w->mem, MEM_DEFRAG, g->frags[i].data, g->frags[i].len);
    mem_free(&w->mem, MEM_DEFRAG, g->frags, (size_t)g->cap * sizeof *g->frags);
    mem_free(&w->mem, MEM_DEFRAG, g, datagram_size());
    d->count--;
}

/* Datagrams idle past the timeout, as of capture time now. */
static void expire(struct worker *w, struct defrag *d, uint64_t now_us)
{
    uint64_t limit = (uint64_t)w->cfg->defrag_timeout * 1000000;
    while (d->oldest && d->oldest->last_us + limit < now_us) {
        drop(w, d, d->oldest);
        w->stats.defrag_timeouts++;
    }
}

static struct datagram *find(struct defrag *d, const struct packet *p, unsigned b)
{
    for (struct datagram *g = d->buckets[b]; g; g = g->hnext)
        if (g->id == p->frag_id && g->ipver == p->ipver &&
            (p->ipver == 6 || g->proto == p->frag_proto) && !memcmp(g->src, p->src, 16) &&
            !memcmp(g->dst, p->dst, 16))
            return g;
    return NULL;
}

/*
 * Memory for what keeps (the datagram keep, or a new one: NULL): when a cap
 * refuses it, the oldest other datagrams go first, counted, until it fits.
 */
static void *grab(struct worker *w, struct defrag *d, const struct datagram *keep, void *old,
                  size_t old_n, size_t n)
{
    void *q;
    while (!(q = old ? mem_realloc(&w->mem, MEM_DEFRAG, old, old_n, n)
                     : mem_calloc(&w->mem, MEM_DEFRAG, n))) {
        struct datagram *victim = d->oldest;
        if (victim == keep)
            victim = victim->newer;
        if (!victim)
            return NULL;
        drop(w, d, victim);
        w->stats.defrag_memcap++;
    }
    return q;
}

/* A new datagram (the oldest go when the memory cap refuses it). */
static struct datagram *create(struct worker *w, struct defrag *d, const struct packet *p,
                               unsigned b)
{
    struct datagram *g = grab(w, d, NULL, NULL, 0, datagram_size());
    if (!g)
        return NULL;
    g->ipver = p->ipver;
    g->proto = p->frag_proto;
    g->bucket = (uint16_t)b;
    memcpy(g->src, p->src, 16), memcpy(g->dst, p->dst, 16);
    g->id = p->frag_id;
    g->hnext = d->buckets[b];
    d->buckets[b] = g;
    push_newest(d, g);
    d->count++;
    return g;
}

/* Which of two overlapping fragments the host keeps the bytes of (policy above). */
static bool newer_wins(uint8_t policy, const struct frag *older, const struct frag *newer)
{
    switch (policy) {
    case DEFRAG_FIRST: return false;
    case DEFRAG_LAST: return true;
    case DEFRAG_BSD: return newer->off < older->off;
    case DEFRAG_LINUX: return newer->off <= older->off;
    default: /* windows */
        return newer->off < older->off && newer->off + newer->len > older->off + older->len;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Whether every octet of [0, end) is covered; meanwhile writes the data into
 * out by the policy and says whether overlapping fragments disagreed.
 */
static bool assemble(const struct datagram *g, uint8_t policy, uint8_t *out, bool *conflict)
{
    uint32_t cuts[2 * DEFRAG_MAX_FRAGS + 1];
    unsigned nc = 0;
    for (unsigned i = 0; i < g->n; i++) {
        cuts[nc++] = g->frags[i].off;
        cuts[nc++] = g->frags[i].off + g->frags[i].len;
    }
    qsort(cuts, nc, sizeof cuts[0], cmp_u32);
    /* each piece between two cuts: the fragment whose bytes the host keeps there */
    uint32_t covered = 0;
    for (unsigned k = 0; k + 1 < nc && covered < g->end; k++) {
        uint32_t a = cuts[k], b = cuts[k + 1] < g->end ? cuts[k + 1] : g->end;
        if (a >= b)
            continue;
        int win = -1;
        for (unsigned i = 0; i < g->n; i++) {
            const struct frag *f = &g->frags[i];
            if (f->off <= a && f->off + f->len >= b &&
                (win < 0 || newer_wins(policy, &g->frags[win], f)))
                win = (int)i;
        }
        if (win < 0 || a > covered)
            return false; /* a hole */
        const struct frag *wf = &g->frags[win];
        memcpy(out + a, wf->data + (a - wf->off), b - a);
        for (unsigned i = 0; i < g->n && !*conflict; i++) {
            const struct frag *f = &g->frags[i];
            if ((int)i != win && f->off <= a && f->off + f->len >= b &&
                memcmp(f->data + (a - f->off), out + a, b - a) != 0)
                *conflict = true;
        }
        covered = b;
    }
    return covered >= g->end;
}

/* The datagram as one packet: the first fragment's header (fixed up) and the data. */
static void rebuild(struct defrag *d, const struct datagram *g, const struct packet *last,
                    struct packet *out)
{
    uint8_t *b = d->out;
    memcpy(b, g->hdr, g->hdr_len);
    size_t total = g->hdr_len + g->end;
    if (g->ipver == 4) {
        b[2] = (uint8_t)(total >> 8), b[3] = (uint8_t)total;
        b[6] = 0, b[7] = 0; /* no MF, offset 0 */
        b[10] = b[11] = 0;
        uint32_t sum = 0;
        for (size_t i = 0; i < g->hdr_len; i += 2)
            sum += (uint32_t)b[i] << 8 | b[i + 1];
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        b[10] = (uint8_t)(~sum >> 8), b[11] = (uint8_t)~sum;
    } else {
        size_t plen = total - 40;
        b[4] = (uint8_t)(plen >> 8), b[5] = (uint8_t)plen;
        b[g->nh_at] = g->next_header; /* the fragment header is not in hdr */
    }
    *out = *last;
    out->data = b;
    out->caplen = out->wirelen = (uint32_t)total;
    out->linktype = g->ipver == 4 ? LINK_IPV4 : LINK_IPV6;
}

const struct packet *defrag_packet(struct worker *w, const struct packet *p, struct packet *out)
{
    struct defrag *d = w->defrag;
    if (!d) {
        d = w->defrag = calloc(1, sizeof *d); /* fixed per worker, as the scratch buffer */
        if (!d)
            return NULL;
    }
    w->stats.defrag_fragments++;
    expire(w, d, p->ts_us);
    if (!p->frag_data) /* nothing after the header (a cut frame) */
        return NULL;
    uint32_t off = p->frag_off, len = p->frag_len;
    unsigned b = bucket_of(p);
    struct datagram *g = find(d, p, b);
    if ((uint64_t)off + len > DEFRAG_MAX_LEN - (p->ipver == 4 ? 20u : 0u)) {
        anomaly_raise(w, NULL, NULL, ANOM_DEFRAG_TOO_LARGE, NULL);
        if (g)
            drop(w, d, g);
        w->stats.defrag_dropped++;
        return NULL;
    }
    if (!g && !(g = create(w, d, p, b)))
        return NULL;
    g->last_us = p->ts_us;
    unlink_age(d, g);
    push_newest(d, g);
    if (g->n == DEFRAG_MAX_FRAGS) {
        drop(w, d, g);
        w->stats.defrag_dropped++;
        return NULL;
    }
    if (!p->frag_more) {
        if (g->have_last && g->end != off + len) { /* two ends: which is the host's? refuse */
            drop(w, d, g);
            w->stats.defrag_dropped++;
            return NULL;
        }
        g->have_last = true;
        g->end = off + len;
    }
    if (off == 0 && !g->hdr_len && p->frag_hdr_len <= DEFRAG_HDR_MAX) {
        memcpy(g->hdr, p->l3, p->frag_hdr_len);
        g->hdr_len = p->frag_hdr_len;
        g->nh_at = p->frag_nh_at;
        g->next_header = p->frag_proto;
        uint8_t proto = p->frag_proto;
        uint32_t need = proto == 6 ? 20 : proto == 17 ? 8 : 0;
        if (len < need)
            g->too_short_first = true;
    }
    if (g->n == g->cap) {
        uint16_t cap = g->cap ? (uint16_t)(2 * g->cap) : 8;
        struct frag *fr = grab(w, d, g, g->frags, (size_t)g->cap * sizeof *fr, cap * sizeof *fr);
        if (!fr) {
            drop(w, d, g);
            w->stats.defrag_memcap++;
            return NULL;
        }
        g->frags = fr;
        g->cap = cap;
    }
    struct frag *f = &g->frags[g->n];
    f->data = len ? grab(w, d, g, NULL, 0, len) : NULL;
    if (len && !f->data) {
        drop(w, d, g);
        w->stats.defrag_memcap++;
        return NULL;
    }
    if (len)
        memcpy(f->data, p->frag_data, len);
    f->off = off, f->len = len;
    g->n++;
    g->got += len;
    if (!g->have_last || !g->hdr_len || g->got < g->end)
        return NULL;
    bool conflict = false;
    if (!assemble(g, w->cfg->defrag_policy, d->out + g->hdr_len, &conflict))
        return NULL;
    if (conflict)
        anomaly_raise(w, NULL, NULL, ANOM_DEFRAG_OVERLAP, NULL);
    if (g->too_short_first)
        anomaly_raise(w, NULL, NULL, ANOM_DEFRAG_TINY_FIRST, NULL);
    /* the data is in place after the header's room; rebuild puts the header before it */
    rebuild(d, g, p, out);
    w->stats.defrag_reassembled++;
    drop(w, d, g);
    return out;
}

void defrag_free(struct worker *w)
{
    struct defrag *d = w->defrag;
    if (!d)
        return;
    while (d->oldest)
        drop(w, d, d->oldest);
    free(d);
    w->defrag = NULL;
}
