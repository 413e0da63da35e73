/*
 * The pcap log (-w): see pcap_log.h. Two halves: the writer, shared by the
 * workers behind one lock (files per link type, rotation by size), and each
 * worker's table of the flows whose frames it holds until they are known to
 * matter (a side table keyed by the flow record, so that the record keeps its
 * three cache lines; a byte in it, pcap_state, saves the look-up for every
 * flow already decided).
 */
#include "rpcsentry/pcap_log.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/config.h"
#include "rpcsentry/flow_record.h"
#include "rpcsentry/log.h"
#include "rpcsentry/mem.h"
#include "rpcsentry/packet.h"
#include "rpcsentry/worker.h"

/* flow->pcap_state */
enum {
    PL_NEW = 0, /* no frame seen yet */
    PL_HELD,    /* its frames are held (an entry in the worker's table) */
    PL_LOST,    /* undecided, but nothing could be held (the memcap): written live if marked */
    PL_LIVE,    /* marked: what was held is written, every frame from now on too */
    PL_OFF,     /* not ours (not TCP, or left aside by the transport): nothing kept */
};

#define PL_SNAPLEN 262144 /* libpcap's largest record: frames are written as captured */
#define PL_MAX_LINKS 8
#define PL_PCAP_HEADER 24 /* a classic pcap file's header, and a record's */
#define PL_RECORD_HEADER 16

/* ---- the writer ---- */

struct pl_file {
    int linktype;
    char base[PATH_MAX]; /* the name of its first file */
    unsigned index;      /* of the file open now: base, base1, base2, ... */
    pcap_t *dead;
    pcap_dumper_t *d;
    uint64_t size; /* bytes in the file open now */
};

struct pcap_log {
    pthread_mutex_t lock;
    char path[PATH_MAX];
    uint64_t limit;
    FILE *first; /* opened at start: the first link type's first file */
    struct pl_file files[PL_MAX_LINKS];
    unsigned nfiles;
    uint64_t opened;
    bool failed;
    char err[PATH_MAX + 128];
};

void pcap_log_file_name(const char *base, unsigned index, char *out, size_t outlen)
{
    if (index == 0)
        snprintf(out, outlen, "%s", base);
    else
        snprintf(out, outlen, "%s%u", base, index);
}

/* path with ".NAME" before its extension (out.pcap -> out.linux_sll2.pcap), for link type lt;
 * false when that does not fit in outlen. */
static bool base_for_link(const char *path, int lt, char *out, size_t outlen)
{
    char name[64];
    const char *n = pcap_datalink_val_to_name(lt);
    size_t nl = 0;
    if (n)
        for (; n[nl] && nl < sizeof name - 1; nl++)
            name[nl] = (char)(n[nl] >= 'A' && n[nl] <= 'Z' ? n[nl] - 'A' + 'a' : n[nl]);
    else
        nl = (size_t)snprintf(name, sizeof name, "dlt%d", lt);
    name[nl] = '\0';
    size_t pl = strlen(path);
    const char *slash = strrchr(path, '/');
    const char *last = slash ? slash + 1 : path;
    const char *dot = strrchr(last, '.');
    size_t at = dot && dot != last ? (size_t)(dot - path) : pl; /* where the name goes */
    if (pl + 1 + nl + 1 > outlen)
        return false;
    memcpy(out, path, at);
    out[at] = '.';
    memcpy(out + at + 1, name, nl);
    memcpy(out + at + 1 + nl, path + at, pl - at);
    out[pl + 1 + nl] = '\0';
    return true;
}

static void fail(struct pcap_log *pl, struct stats *s, const char *what, const char *name)
{
    s->pcap_log_write_errors++;
    if (!pl->failed) {
        pl->failed = true;
        snprintf(pl->err, sizeof pl->err, "pcap log %s: %s: %s", name, what, strerror(errno));
        log_error("%s", pl->err);
    }
}

/* Closes f's file open now; false when what it held did not all reach the disk. */
static bool file_close(struct pcap_log *pl, struct pl_file *f, struct stats *s)
{
    if (!f->d)
        return true;
    bool ok = pcap_dump_flush(f->d) == 0 && !ferror(pcap_dump_file(f->d));
    if (!ok) {
        char name[PATH_MAX + 16];
        pcap_log_file_name(f->base, f->index, name, sizeof name);
        fail(pl, s, "write failed", name);
    }
    pcap_dump_close(f->d);
    f->d = NULL;
    return ok;
}

/* Opens f's file `f->index`: the file opened at start for the first one. */
static bool file_open(struct pcap_log *pl, struct pl_file *f, struct stats *s)
{
    char name[PATH_MAX + 16];
    pcap_log_file_name(f->base, f->index, name, sizeof name);
    if (pl->first) {
        f->d = pcap_dump_fopen(f->dead, pl->first);
        if (!f->d)
            fclose(pl->first);
        pl->first = NULL;
    } else {
        f->d = pcap_dump_open(f->dead, name);
    }
    if (!f->d) {
        fail(pl, s, "cannot open", name);
        return false;
    }
    f->size = PL_PCAP_HEADER;
    pl->opened++;
    s->pcap_log_files++;
    return true;
}

/* The file of link type lt, opened when first needed; NULL when it cannot be. Locked. */
static struct pl_file *file_for(struct pcap_log *pl, int lt, struct stats *s)
{
    for (unsigned i = 0; i < pl->nfiles; i++)
        if (pl->files[i].linktype == lt)
            return pl->files[i].d ? &pl->files[i] : NULL;
    if (pl->nfiles == PL_MAX_LINKS)
        return NULL;
    struct pl_file *f = &pl->files[pl->nfiles++];
    memset(f, 0, sizeof *f);
    f->linktype = lt;
    if (pl->nfiles == 1)
        memcpy(f->base, pl->path, sizeof pl->path);
    else if (!base_for_link(pl->path, lt, f->base, sizeof f->base)) {
        errno = ENAMETOOLONG;
        fail(pl, s, "no name for another link type", pl->path);
        return NULL;
    }
    f->dead = pcap_open_dead(lt, PL_SNAPLEN);
    if (!f->dead) {
        fail(pl, s, "no libpcap handle", f->base);
        return NULL;
    }
    return file_open(pl, f, s) ? f : NULL;
}

/* One frame, whole, into its link type's file (the next one when this is full). Locked. */
static void write_locked(struct pcap_log *pl, struct stats *s, int lt, uint64_t ts_us,
                         uint32_t caplen, uint32_t wirelen, const uint8_t *data)
{
    struct pl_file *f = file_for(pl, lt, s);
    if (!f) {
        s->pcap_log_write_errors++;
        return;
    }
    uint64_t rec = PL_RECORD_HEADER + (uint64_t)caplen;
    if (pl->limit && f->size > PL_PCAP_HEADER && f->size + rec > pl->limit) {
        file_close(pl, f, s);
        f->index++;
        if (!file_open(pl, f, s)) {
            s->pcap_log_write_errors++;
            return;
        }
    }
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = (time_t)(ts_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(ts_us % 1000000);
    h.caplen = caplen;
    h.len = wirelen;
    pcap_dump((u_char *)f->d, &h, data);
    f->size += rec;
    s->pcap_log_packets++;
}

struct pcap_log *pcap_log_open(const char *path, uint64_t limit, char *err, size_t errlen)
{
    if (strlen(path) + 80 >= PATH_MAX) {
        snprintf(err, errlen, "-w %s: name too long", path);
        return NULL;
    }
    struct pcap_log *pl = calloc(1, sizeof *pl);
    if (!pl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pl->first = fopen(path, "wb");
    if (!pl->first) {
        snprintf(err, errlen, "-w %s: %s", path, strerror(errno));
        free(pl);
        return NULL;
    }
    pthread_mutex_init(&pl->lock, NULL);
    memcpy(pl->path, path, strlen(path) + 1);
    pl->limit = limit;
    return pl;
}

void pcap_log_flush(struct pcap_log *pl)
{
    if (!pl)
        return;
    pthread_mutex_lock(&pl->lock);
    for (unsigned i = 0; i < pl->nfiles; i++)
        if (pl->files[i].d)
            (void)pcap_dump_flush(pl->files[i].d);
    pthread_mutex_unlock(&pl->lock);
}

uint64_t pcap_log_files(struct pcap_log *pl)
{
    if (!pl)
        return 0;
    pthread_mutex_lock(&pl->lock);
    uint64_t n = pl->opened;
    pthread_mutex_unlock(&pl->lock);
    return n;
}

bool pcap_log_close(struct pcap_log *pl, char *err, size_t errlen)
{
    if (!pl)
        return true;
    struct stats s; /* the workers are gone: nothing to count into */
    memset(&s, 0, sizeof s);
    if (pl->first) {
        /* nothing was written: an empty capture, so that the file a reader expects is there */
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, PL_SNAPLEN);
        pcap_dumper_t *d = dead ? pcap_dump_fopen(dead, pl->first) : NULL;
        if (d) {
            if (pcap_dump_flush(d) != 0 || ferror(pcap_dump_file(d)))
                fail(pl, &s, "write failed", pl->path);
            pcap_dump_close(d);
        } else {
            fclose(pl->first);
            fail(pl, &s, "cannot write", pl->path);
        }
        if (dead)
            pcap_close(dead);
        pl->first = NULL;
    }
    for (unsigned i = 0; i < pl->nfiles; i++) {
        file_close(pl, &pl->files[i], &s);
        if (pl->files[i].dead)
            pcap_close(pl->files[i].dead);
    }
    bool ok = !pl->failed;
    if (!ok)
        snprintf(err, errlen, "%s", pl->err);
    pthread_mutex_destroy(&pl->lock);
    free(pl);
    return ok;
}

/* ---- each worker's held flows ---- */

/* A frame held, as it lies in a flow's buffer: this header, then caplen bytes, to 8. */
struct pl_rec {
    uint64_t ts_us;
    uint32_t caplen, wirelen;
    int32_t linktype;
    uint32_t pad;
};

struct pl_held {
    struct pl_held *next;
    struct pl_held *older, *newer; /* in the order flows began to be held */
    struct flow *f;
    uint64_t first_us; /* its first frame held */
    uint8_t *buf;
    size_t len, cap;
    uint32_t skipped;   /* frames not held since the buffer ran out */
    uint32_t defragged; /* datagrams put together from fragments: no frame to hold */
    bool full;          /* nothing more is held: what it holds is the flow's start */
};

struct pcap_log_flows {
    struct pl_held **b;
    size_t nb, count;
    struct pl_held *oldest, *newest;
};

#define PL_BUCKETS0 1024
/*
 * At the cap, a flow whose buffer is full and that began this long ago (capture
 * time) gives its frames up for a newer one: a long undecided session (a file
 * server's) does not keep the cap from every flow after it. Younger flows keep
 * theirs, so a flood of fresh flows does not push out the start of one that is
 * about to matter; at most PL_EVICT_LOOK are looked at per refusal.
 */
#define PL_STALE_US (60 * (uint64_t)1000000)
#define PL_EVICT_LOOK 16

static size_t bucket_of(const struct pcap_log_flows *t, const struct flow *f)
{
    uint64_t h = (uint64_t)(uintptr_t)f * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 32) & (t->nb - 1);
}

static struct pl_held *held_find(struct pcap_log_flows *t, const struct flow *f)
{
    for (struct pl_held *h = t->b[bucket_of(t, f)]; h; h = h->next)
        if (h->f == f)
            return h;
    return NULL;
}

/* Twice the buckets when the table is as full as it is wide (when the cap allows). */
static void held_grow(struct worker *w, struct pcap_log_flows *t)
{
    size_t nb = t->nb * 2;
    struct pl_held **b = mem_calloc(&w->mem, MEM_PCAP, nb * sizeof *b);
    if (!b)
        return; /* longer chains, no harm */
    struct pcap_log_flows n = *t;
    n.b = b;
    n.nb = nb;
    for (size_t i = 0; i < t->nb; i++)
        while (t->b[i]) {
            struct pl_held *h = t->b[i];
            t->b[i] = h->next;
            size_t k = bucket_of(&n, h->f);
            h->next = b[k];
            b[k] = h;
        }
    mem_free(&w->mem, MEM_PCAP, t->b, t->nb * sizeof *t->b);
    *t = n;
}

/* Takes f's entry out of the table and frees it with what it holds. */
static void held_free(struct worker *w, struct pl_held *h)
{
    struct pcap_log_flows *t = w->pcap_flows;
    struct pl_held **pp = &t->b[bucket_of(t, h->f)];
    while (*pp && *pp != h)
        pp = &(*pp)->next;
    if (*pp)
        *pp = h->next;
    if (h->older)
        h->older->newer = h->newer;
    else
        t->oldest = h->newer;
    if (h->newer)
        h->newer->older = h->older;
    else
        t->newest = h->older;
    t->count--;
    mem_free(&w->mem, MEM_PCAP, h->buf, h->cap);
    mem_free(&w->mem, MEM_PCAP, h, sizeof *h);
}

static size_t rec_size(uint32_t caplen)
{
    return sizeof(struct pl_rec) + (((size_t)caplen + 7) & ~(size_t)7);
}

/* Frees the held frames of a stale flow other than keep (see PL_STALE_US); false: none. */
static bool evict_stale(struct worker *w, const struct pl_held *keep, uint64_t now_us)
{
    struct pl_held *h = w->pcap_flows->oldest;
    for (int n = 0; h && n < PL_EVICT_LOOK; n++, h = h->newer) {
        if (h == keep || !h->full || now_us < h->first_us + PL_STALE_US)
            continue;
        h->f->pcap_state = PL_LOST; /* written from its call on, if it comes */
        w->stats.pcap_log_evicted++;
        held_free(w, h);
        return true;
    }
    return false;
}

/* Holds p, a frame of the undecided flow f, within the flow's budget and the cap. */
static void hold(struct worker *w, struct flow *f, const struct packet *p)
{
    struct pcap_log_flows *t = w->pcap_flows;
    struct pl_held *h = f->pcap_state == PL_HELD ? held_find(t, f) : NULL;
    if (!h) {
        h = mem_calloc(&w->mem, MEM_PCAP, sizeof *h);
        if (!h && evict_stale(w, NULL, p->ts_us))
            h = mem_calloc(&w->mem, MEM_PCAP, sizeof *h);
        if (!h) {
            w->stats.pcap_log_memcap++;
            w->stats.pcap_log_unheld++;
            f->pcap_state = PL_LOST;
            return;
        }
        h->f = f;
        h->first_us = p->ts_us;
        h->older = t->newest;
        if (t->newest)
            t->newest->newer = h;
        else
            t->oldest = h;
        t->newest = h;
        size_t k = bucket_of(t, f);
        h->next = t->b[k];
        t->b[k] = h;
        if (++t->count > t->nb)
            held_grow(w, t);
        f->pcap_state = PL_HELD;
    }
    if (p->defragged) {
        /* the datagram is not a frame as captured, and its fragments were not kept */
        h->defragged++;
        return;
    }
    size_t need = rec_size(p->caplen), budget = w->cfg->pcap_log_flow_buffer;
    if (!h->full && h->len + need > budget)
        h->full = true;
    if (!h->full && h->len + need > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4096;
        if (cap < h->len + need)
            cap = h->len + need;
        if (cap > budget)
            cap = budget;
        uint8_t *b = mem_realloc(&w->mem, MEM_PCAP, h->buf, h->cap, cap);
        if (!b && evict_stale(w, h, p->ts_us))
            b = mem_realloc(&w->mem, MEM_PCAP, h->buf, h->cap, cap);
        if (b) {
            h->buf = b;
            h->cap = cap;
        } else {
            w->stats.pcap_log_memcap++;
            h->full = true;
        }
    }
    if (h->full) {
        h->skipped++;
        w->stats.pcap_log_unheld++;
        return;
    }
    struct pl_rec r = {p->ts_us, p->caplen, p->wirelen, p->linktype, 0};
    memcpy(h->buf + h->len, &r, sizeof r);
    memcpy(h->buf + h->len + sizeof r, p->data, p->caplen);
    h->len += need;
}

/* f is marked: what it holds written, in capture order, and from now on each frame. */
static void mark(struct worker *w, struct flow *f)
{
    struct pcap_log *pl = w->pcap_log;
    w->stats.pcap_log_flows++;
    if (f->pcap_state == PL_HELD) {
        struct pl_held *h = held_find(w->pcap_flows, f);
        if (h) {
            pthread_mutex_lock(&pl->lock);
            for (size_t at = 0; at < h->len;) {
                struct pl_rec r;
                memcpy(&r, h->buf + at, sizeof r);
                write_locked(pl, &w->stats, r.linktype, r.ts_us, r.caplen, r.wirelen,
                             h->buf + at + sizeof r);
                at += rec_size(r.caplen);
            }
            pthread_mutex_unlock(&pl->lock);
            w->stats.pcap_log_dropped += h->skipped;
            w->stats.pcap_log_defragged += h->defragged;
            held_free(w, h);
        }
    } else if (f->pcap_state == PL_LOST) {
        /* nothing of its start could be held: the frames seen before this one */
        uint64_t seen = (uint64_t)f->pkts[0] + f->pkts[1];
        w->stats.pcap_log_dropped += seen ? seen - 1 : 0;
    }
    f->pcap_state = PL_LIVE;
}

static void write_live(struct worker *w, const struct packet *p)
{
    if (p->defragged) {
        w->stats.pcap_log_defragged++;
        return;
    }
    struct pcap_log *pl = w->pcap_log;
    pthread_mutex_lock(&pl->lock);
    write_locked(pl, &w->stats, p->linktype, p->ts_us, p->caplen, p->wirelen, p->data);
    pthread_mutex_unlock(&pl->lock);
}

static void let_go(struct worker *w, struct flow *f)
{
    if (f->pcap_state == PL_HELD) {
        struct pl_held *h = held_find(w->pcap_flows, f);
        if (h)
            held_free(w, h);
    }
}

static void on_flow_packet(struct worker *w, struct flow *f, const struct packet *p)
{
    uint8_t st = f->pcap_state;
    if (st == PL_OFF)
        return;
    if (st != PL_LIVE && (f->ref.target || f->ref.alerted))
        mark(w, f), st = PL_LIVE;
    if (st == PL_LIVE) {
        write_live(w, p);
        return;
    }
    /* only TCP flows the transport may still decode can come to matter */
    if (f->ref.key.proto != IPPROTO_TCP || f->app == FLOW_APP_IGNORED) {
        let_go(w, f);
        f->pcap_state = PL_OFF;
        return;
    }
    if (st == PL_LOST) {
        w->stats.pcap_log_unheld++;
        return;
    }
    hold(w, f, p);
}

static void on_flow_close(struct worker *w, struct flow *f)
{
    uint8_t st = f->pcap_state;
    if ((st == PL_HELD || st == PL_LOST) && (f->ref.target || f->ref.alerted))
        mark(w, f); /* a call done as the flow ends (unanswered, held writes let go) */
    let_go(w, f);
    f->pcap_state = PL_OFF;
}

bool pcap_log_attach(struct worker *w, struct pcap_log *pl)
{
    struct pcap_log_flows *t = calloc(1, sizeof *t);
    if (!t)
        return false;
    t->nb = PL_BUCKETS0;
    t->b = mem_calloc(&w->mem, MEM_PCAP, t->nb * sizeof *t->b);
    if (!t->b) {
        free(t);
        return false;
    }
    w->pcap_flows = t;
    w->pcap_log = pl;
    w->on_flow_packet = on_flow_packet;
    w->on_flow_close = on_flow_close;
    return true;
}

void pcap_log_detach(struct worker *w)
{
    struct pcap_log_flows *t = w->pcap_flows;
    if (!t)
        return;
    for (size_t i = 0; i < t->nb; i++)
        while (t->b[i])
            held_free(w, t->b[i]);
    mem_free(&w->mem, MEM_PCAP, t->b, t->nb * sizeof *t->b);
    free(t);
    w->pcap_flows = NULL;
    w->pcap_log = NULL;
    w->on_flow_packet = NULL;
    w->on_flow_close = NULL;
}
