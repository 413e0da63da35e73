/*
 * The endpoint mapper, C706 appendix O / MS-RPCE 2.2.1.2: where interfaces
 * listen. ept_map and ept_lookup are decoded (NDR and NDR64: the mapper often
 * accepts only NDR64), their towers parsed floor by floor, and every TCP
 * endpoint an answer announces goes into the worker's table, so that the
 * flow that follows to that port is known before its first byte.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iface_internal.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/flow_record.h"
#include "rpcsentry/lockwait.h"
#include "rpcsentry/packet.h"
#include "rpcsentry/text.h"

#define EPT_S_NOT_REGISTERED 0x16c9a0d6u
#define MAX_TOWER 4096 /* octets of one tower; real ones are about 75 */
#define MAX_ENTRIES 4096

static const struct uuid ndr_syntax =
    UUID_LIT(0x8a885d04, 0x1ceb, 0x11c9, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60);
static const struct uuid ndr64_syntax =
    UUID_LIT(0x71710533, 0xbeba, 0x4937, 0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36);

/* ---- towers ---- */

bool epm_tower_parse(const uint8_t *p, size_t n, struct epm_tower *t)
{
    memset(t, 0, sizeof *t);
    struct rd c = rd_init(p, n);
    /* tower octets are little-endian whatever the call's drep (C706 appendix L) */
    uint16_t floors = rd_u16(&c, true);
    if (!rd_ok(&c))
        return false;
    for (unsigned i = 0; i < floors; i++) {
        uint16_t lhs_len = rd_u16(&c, true);
        const uint8_t *lhs = rd_take(&c, lhs_len);
        uint16_t rhs_len = rd_u16(&c, true);
        const uint8_t *rhs = rd_take(&c, rhs_len);
        if (!rd_ok(&c) || lhs_len == 0)
            return false;
        t->n_floors++;
        switch (lhs[0]) {
        case EPM_PROTO_UUID: {
            if (lhs_len < 19 || rhs_len < 2)
                return false;
            struct rd u = rd_init(lhs + 1, 18);
            struct uuid id = rd_uuid(&u, true);
            uint16_t major = rd_u16(&u, true);
            uint16_t minor = (uint16_t)(rhs[0] | rhs[1] << 8);
            /* the first identifier floor is the interface, the second the transfer syntax */
            if (!t->has_iface) {
                t->has_iface = true;
                t->iface = id;
                t->ver_major = major;
                t->ver_minor = minor;
            } else if (!t->has_syntax) {
                t->has_syntax = true;
                t->syntax = id;
                t->syntax_ver = major;
            }
            break;
        }
        case EPM_PROTO_CO:
        case EPM_PROTO_CL:
        case EPM_PROTO_LRPC: t->rpc = lhs[0]; break;
        case EPM_PROTO_TCP:
        case EPM_PROTO_UDP:
        case EPM_PROTO_HTTP:
            if (rhs_len < 2)
                return false;
            t->transport = lhs[0];
            t->port = (uint16_t)(rhs[0] << 8 | rhs[1]); /* big-endian */
            t->has_port = true;
            break;
        case EPM_PROTO_IP:
            if (rhs_len < 4)
                return false;
            memcpy(t->ip, rhs, 4);
            t->has_ip = true;
            break;
        case EPM_PROTO_NP:
        case EPM_PROTO_LRPC_PORT:
            t->transport = lhs[0];
            printable_copy(rhs, rhs_len, t->pipe, sizeof t->pipe);
            break;
        case EPM_PROTO_NETBIOS: printable_copy(rhs, rhs_len, t->host, sizeof t->host); break;
        default: break; /* other protocols: counted, not interpreted */
        }
    }
    return true;
}

const char *epm_tower_protseq(const struct epm_tower *t)
{
    switch (t->transport) {
    case EPM_PROTO_TCP: return t->rpc == EPM_PROTO_CL ? NULL : "ncacn_ip_tcp";
    case EPM_PROTO_UDP: return "ncadg_ip_udp";
    case EPM_PROTO_NP: return "ncacn_np";
    case EPM_PROTO_HTTP: return "ncacn_http";
    case EPM_PROTO_LRPC_PORT: return "ncalrpc";
    default: return NULL;
    }
}

/* ---- the table ---- */

/*
 * An answer one worker learnt while reading files with several, not yet in
 * the table: it goes in, in capture order, when a frame placed after it
 * needs the table (epm_lookup), or when too many wait.
 */
struct epm_pending {
    uint64_t seq;    /* the place in the run of the answer's frame */
    uint64_t now_us; /* and its time */
    struct epm_entry e;
};
#define EPM_PENDING_MAX 1024

struct epm_table {
    struct epm_entry e[EPM_TABLE_SLOTS];
    bool shared;
    pthread_mutex_t lock;        /* shared tables only */
    struct epm_pending *pending; /* shared tables: by place, then as learnt */
    unsigned n_pending;
};

struct epm_table *epm_table_new_shared(void)
{
    struct epm_table *t = calloc(1, sizeof *t);
    if (t && !(t->pending = calloc(EPM_PENDING_MAX, sizeof *t->pending))) {
        free(t);
        return NULL;
    }
    if (t) {
        t->shared = true;
        pthread_mutex_init(&t->lock, NULL);
    }
    return t;
}

void epm_table_free_shared(struct epm_table *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->pending);
    free(t);
}

static bool key_eq(const struct epm_entry *e, const uint8_t addr[16], uint8_t ipver, uint16_t port)
{
    return e->used && e->port == port && e->ipver == ipver && memcmp(e->addr, addr, 16) == 0;
}

static unsigned slot_of(const uint8_t addr[16], uint16_t port)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 16777619u;
    h = (h ^ port) * 16777619u;
    h = (h ^ (port >> 8)) * 16777619u;
    return h % EPM_TABLE_SLOTS;
}

#define PROBE 16 /* slots looked at from the home slot */

static bool expired(const struct worker *w, const struct epm_entry *e, uint64_t now_us)
{
    uint64_t ttl = (uint64_t)w->cfg->epm_ttl * 1000000;
    return now_us > e->learned_us + ttl;
}

/* Puts an answer in its slot, as of now_us (the answer's time). */
static void put(struct worker *w, struct epm_table *t, const struct epm_entry *n, uint64_t now_us)
{
    unsigned home = slot_of(n->addr, n->port);
    struct epm_entry *slot = NULL, *oldest = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        struct epm_entry *e = &t->e[(home + i) % EPM_TABLE_SLOTS];
        if (key_eq(e, n->addr, n->ipver, n->port)) {
            slot = e;
            break;
        }
        if (!slot && (!e->used || expired(w, e, now_us)))
            slot = e;
        if (!oldest || e->learned_us < oldest->learned_us)
            oldest = e;
    }
    if (!slot) {
        slot = oldest; /* full around here: the oldest answer gives way */
        w->stats.epm_evicted++;
    }
    *slot = *n;
}

/* The waiting answers placed at or before seq go in, in their order (t locked). */
static void put_pending(struct worker *w, struct epm_table *t, uint64_t seq)
{
    unsigned k = 0;
    while (k < t->n_pending && t->pending[k].seq <= seq) {
        put(w, t, &t->pending[k].e, t->pending[k].now_us);
        k++;
    }
    if (k) {
        memmove(t->pending, t->pending + k, (t->n_pending - k) * sizeof *t->pending);
        t->n_pending -= k;
    }
}

void epm_learn(struct worker *w, const uint8_t addr[16], uint8_t ipver, uint16_t port,
               const struct uuid *iface, uint16_t ver_major, uint16_t ver_minor, uint64_t flow_id)
{
    if (!w->epm && !(w->epm = mem_calloc(&w->mem, MEM_APP, sizeof *w->epm)))
        return;
    struct epm_table *t = w->epm;
    struct epm_entry n = {.ipver = ipver,
                          .port = port,
                          .iface = *iface,
                          .ver_major = ver_major,
                          .ver_minor = ver_minor,
                          .learned_us = w->now_us,
                          .learned_flow_id = flow_id,
                          .used = true};
    memcpy(n.addr, addr, 16);
    w->stats.epm_learned++;
    if (!t->shared) {
        put(w, t, &n, w->now_us);
        return;
    }
    lock_counted(&t->lock, &w->stats.lock_epm_waits, &w->stats.lock_epm_wait_us);
    if (!w->dispatch_of) { /* live capture: no capture order to keep */
        put(w, t, &n, w->now_us);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    /*
     * Reading files with several workers: the answer waits, without making this
     * worker wait, until a frame placed after it needs the table. Too many
     * waiting: once every answer before this one is in the list (no other
     * worker holds an earlier frame), those up to it go in.
     */
    if (t->n_pending == EPM_PENDING_MAX) {
        pthread_mutex_unlock(&t->lock);
        if (w->order_wait)
            w->order_wait(w, false);
        lock_counted(&t->lock, &w->stats.lock_epm_waits, &w->stats.lock_epm_wait_us);
        put_pending(w, t, w->order_seq);
        put(w, t, &n, w->now_us);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    /* after those placed before it or with it (a frame's answers keep their order) */
    unsigned at = t->n_pending;
    while (at > 0 && t->pending[at - 1].seq > w->order_seq)
        at--;
    memmove(t->pending + at + 1, t->pending + at, (t->n_pending - at) * sizeof *t->pending);
    t->pending[at] = (struct epm_pending){.seq = w->order_seq, .now_us = w->now_us, .e = n};
    t->n_pending++;
    pthread_mutex_unlock(&t->lock);
}

static bool find(struct worker *w, struct epm_table *t, const uint8_t addr[16], uint8_t ipver,
                 uint16_t port, struct epm_entry *out)
{
    unsigned home = slot_of(addr, port);
    for (unsigned i = 0; i < PROBE; i++) {
        struct epm_entry *e = &t->e[(home + i) % EPM_TABLE_SLOTS];
        if (key_eq(e, addr, ipver, port)) {
            if (expired(w, e, w->now_us)) {
                e->used = false;
                return false;
            }
            *out = *e;
            return true;
        }
    }
    return false;
}

bool epm_lookup(struct worker *w, const uint8_t addr[16], uint8_t ipver, uint16_t port,
                struct epm_entry *out)
{
    struct epm_table *t = w->epm;
    if (!t)
        return false;
    if (!t->shared)
        return find(w, t, addr, ipver, port, out);
    /*
     * Several workers reading files: once no other worker holds a frame placed
     * before this one on a mapper's port (the only frames that teach it), every
     * answer before it is in the table or waiting; those go in, and none placed
     * after it. The table is then as one worker would have it here (expiry and
     * eviction included), whatever the timing.
     */
    if (w->order_wait)
        w->order_wait(w, true);
    lock_counted(&t->lock, &w->stats.lock_epm_waits, &w->stats.lock_epm_wait_us);
    if (w->dispatch_of)
        put_pending(w, t, w->order_seq);
    bool found = find(w, t, addr, ipver, port, out);
    pthread_mutex_unlock(&t->lock);
    return found;
}

void epm_table_free(struct worker *w)
{
    if (w->epm && !w->epm->shared)
        mem_free(&w->mem, MEM_APP, w->epm, sizeof *w->epm);
    w->epm = NULL;
}

void epm_forget(struct worker *w)
{
    struct epm_table *t = w->epm;
    if (!t || !t->shared) {
        epm_table_free(w); /* made again at the next answer */
        return;
    }
    lock_counted(&t->lock, &w->stats.lock_epm_waits, &w->stats.lock_epm_wait_us);
    memset(t->e, 0, sizeof t->e);
    t->n_pending = 0;
    pthread_mutex_unlock(&t->lock);
}

/* ---- decoding ---- */

static void add_iface(struct rpc_args *ar, uint16_t parent, const char *name, const struct uuid *u,
                      uint16_t major, uint16_t minor)
{
    char s[UUID_STR_LEN], v[16];
    uint16_t o = args_obj(ar, parent, name);
    uuid_fmt(u, s);
    args_str(ar, o, "uuid", s);
    snprintf(v, sizeof v, "%u.%u", major, minor);
    args_str(ar, o, "version", v);
    const struct iface_def *d = iface_find(u);
    if (d)
        args_str(ar, o, "name", d->name);
    args_bool(ar, o, "target", d && d->target);
}

static void add_syntax(struct rpc_args *ar, uint16_t parent, const struct epm_tower *t)
{
    if (!t->has_syntax)
        return;
    char s[UUID_STR_LEN];
    if (uuid_eq(&t->syntax, &ndr_syntax))
        args_str(ar, parent, "syntax", "NDR");
    else if (uuid_eq(&t->syntax, &ndr64_syntax))
        args_str(ar, parent, "syntax", "NDR64");
    else {
        uuid_fmt(&t->syntax, s);
        args_str(ar, parent, "syntax", s);
    }
}

/* A tower into the argument tree. */
static void add_tower(struct rpc_args *ar, uint16_t parent, const struct epm_tower *t,
                      bool with_iface)
{
    if (with_iface && t->has_iface)
        add_iface(ar, parent, "interface", &t->iface, t->ver_major, t->ver_minor);
    add_syntax(ar, parent, t);
    const char *ps = epm_tower_protseq(t);
    if (ps)
        args_str(ar, parent, "protocol", ps);
    if (t->has_port)
        args_num(ar, parent, "port", t->port);
    if (t->has_ip) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, t->ip, ip, sizeof ip);
        args_str(ar, parent, "ip", ip);
    }
    if (t->pipe[0])
        args_str(ar, parent, "endpoint", t->pipe);
    if (t->host[0])
        args_str(ar, parent, "host", t->host);
}

/* The answering server: the side of the flow that is not the client. */
static void server_of(const struct rpc_call *call, const uint8_t **addr, uint8_t *ipver)
{
    const struct flow_key *k = &call->transport->flow->key;
    *addr = k->addr[1 - (call->client_ep & 1)];
    *ipver = k->ipver;
}

/* A TCP endpoint an answer announced: the server itself, and the IP floor's address. */
static void learn(struct worker *w, const struct rpc_call *call, const struct epm_tower *t)
{
    if (!t->has_iface || !t->has_port || t->transport != EPM_PROTO_TCP || t->rpc == EPM_PROTO_CL ||
        t->port == 0)
        return;
    /*
     * Only the endpoint mapper's answers, as they arrive (or at the capture's end):
     * not a server elsewhere answering as one, nor an answer held behind a hole
     * that another flow's frame delivers by ending its flow (a time-out, which
     * with several workers comes at another frame). So the reader knows by the
     * ports alone which frames may teach the table (the worker's order_wait).
     */
    const struct flow_key *k = &call->transport->flow->key;
    if (!w->frame_may_answer || (!rpc_mapper_port(k->port[0]) && !rpc_mapper_port(k->port[1])))
        return;
    const uint8_t *srv;
    uint8_t ipver;
    server_of(call, &srv, &ipver);
    uint64_t fid = call->transport->flow->flow_id;
    epm_learn(w, srv, ipver, t->port, &t->iface, t->ver_major, t->ver_minor, fid);
    if (w->on_port_learned)
        w->on_port_learned(w, t->port);
    static const uint8_t zero[4];
    if (t->has_ip && memcmp(t->ip, zero, 4) != 0 && !(ipver == 4 && memcmp(srv, t->ip, 4) == 0)) {
        uint8_t a[16] = {0};
        memcpy(a, t->ip, 4);
        epm_learn(w, a, 4, t->port, &t->iface, t->ver_major, t->ver_minor, fid);
    }
}

/* A twr_t in NDR: conformance, then tower_length, then the octets. */
static const uint8_t *read_tower(struct ndr *n, uint32_t *len)
{
    uint64_t max = ndr_size(n);
    uint32_t tl = ndr_u32(n);
    if (!ndr_ok(n) || tl > max || tl > MAX_TOWER) {
        rd_fail(&n->c);
        return NULL;
    }
    *len = tl;
    return rd_take(&n->c, tl);
}

static struct uuid ndr_uuid(struct ndr *n)
{
    rd_align(&n->c, 4);
    return rd_uuid(&n->c, n->le);
}

/* A request's optional object UUID, written when present and not nil. */
static void object_arg(struct rpc_args *ar, uint16_t a, struct ndr *n)
{
    if (!ndr_ptr(n))
        return;
    struct uuid obj = ndr_uuid(n);
    if (ndr_ok(n) && !uuid_is_nil(&obj)) {
        char s[UUID_STR_LEN];
        uuid_fmt(&obj, s);
        args_str(ar, a, "object", s);
    }
}

/* ept_map (3): the interface asked for, in a tower. */
static void req_map(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    object_arg(ar, a, n);
    if (ndr_ptr(n)) {
        uint32_t tl = 0;
        const uint8_t *tw = read_tower(n, &tl);
        struct epm_tower t;
        if (tw && epm_tower_parse(tw, tl, &t))
            add_tower(ar, a, &t, true);
        else if (ndr_ok(n))
            args_bool(ar, a, "tower_malformed", true);
    }
    uint8_t h[20];
    ndr_handle(n, h);
    uint32_t max = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_num(ar, a, "max_towers", max);
}

/*
 * The head both answers share: the context handle, the count returned and
 * the conformant-varying array's header. False when they do not hold
 * together (offset or length past the maximum, more than MAX_ENTRIES, or
 * more than the count).
 */
static bool answer_head(struct ndr *n, uint32_t *num, uint64_t *actual)
{
    uint8_t h[20];
    ndr_handle(n, h);
    *num = ndr_u32(n);
    uint64_t max = ndr_size(n), off = ndr_size(n);
    *actual = ndr_size(n);
    return ndr_ok(n) && *actual <= max && off <= max && *actual <= MAX_ENTRIES &&
           *actual <= *num + 0ull;
}

/* ept_map's answer: the towers, each an endpoint; TCP ones are learned. */
static void res_map(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t r = args_section(ar, "result");
    uint32_t num;
    uint64_t actual;
    if (!answer_head(n, &num, &actual))
        return iface_decode_failed(w, call, r);
    uint8_t nonnull[MAX_ENTRIES / 8] = {0};
    for (uint64_t i = 0; i < actual; i++)
        if (ndr_ptr(n))
            nonnull[i / 8] |= (uint8_t)(1u << (i % 8));
    uint16_t towers = args_arr(ar, r, "towers");
    for (uint64_t i = 0; i < actual && ndr_ok(n); i++) {
        if (!(nonnull[i / 8] & (1u << (i % 8))))
            continue;
        uint32_t tl = 0;
        const uint8_t *tw = read_tower(n, &tl);
        struct epm_tower t;
        if (!tw)
            break;
        if (!epm_tower_parse(tw, tl, &t)) {
            args_bool(ar, r, "tower_malformed", true);
            continue;
        }
        learn(w, call, &t);
        add_tower(ar, args_obj(ar, towers, NULL), &t, true);
    }
    uint32_t status = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, r);
    call->status = status;
    call->has_status = true;
}

static const struct flag_name inquiry_types[] = {
    {0, "all_elts"}, {1, "match_by_if"}, {2, "match_by_obj"}, {3, "match_by_both"}, {0, NULL},
};

/* ept_lookup (2): what is asked for. */
static void req_lookup(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint32_t inquiry = ndr_u32(n);
    object_arg(ar, a, n);
    if (ndr_ptr(n)) {
        struct uuid id = ndr_uuid(n);
        uint16_t major = ndr_u16(n), minor = ndr_u16(n);
        if (ndr_ok(n) && !uuid_is_nil(&id))
            add_iface(ar, a, "interface", &id, major, minor);
    }
    uint32_t vers_option = ndr_u32(n);
    uint8_t h[20];
    ndr_handle(n, h);
    uint32_t max = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_enum(ar, a, "inquiry_type", inquiry, inquiry_types);
    args_num(ar, a, "vers_option", vers_option);
    args_num(ar, a, "max_entries", max);
}

/* ept_lookup's answer: entries (object, tower, annotation); TCP towers are learned. */
static void res_lookup(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t r = args_section(ar, "result");
    uint32_t num;
    uint64_t actual;
    if (!answer_head(n, &num, &actual))
        return iface_decode_failed(w, call, r);
    /* the entries, their towers deferred after the array */
    enum { KEEP = 64 }; /* annotations kept for the record; towers are read for all */
    uint8_t nonnull[MAX_ENTRIES / 8] = {0};
    char annotation[KEEP][65];
    for (uint64_t i = 0; i < actual && ndr_ok(n); i++) {
        if (n->ndr64)
            rd_align(&n->c, 8);
        (void)ndr_uuid(n); /* object */
        if (ndr_ptr(n))
            nonnull[i / 8] |= (uint8_t)(1u << (i % 8));
        uint64_t aoff = ndr_size(n), alen = ndr_size(n);
        if (aoff > 64 || alen > 64 - aoff) {
            rd_fail(&n->c);
            break;
        }
        const uint8_t *txt = rd_take(&n->c, (size_t)alen);
        if (i < KEEP)
            printable_copy(txt ? txt : (const uint8_t *)"", txt ? (size_t)alen : 0, annotation[i],
                           sizeof annotation[i]);
    }
    args_num(ar, r, "num_entries", num);
    /*
     * Two passes over the towers: the first learns every TCP endpoint and keeps
     * the target interfaces' (written first, as the entries may outgrow the
     * record), the second writes the entries.
     */
    enum { TARGETS = 16 };
    struct epm_tower found[TARGETS];
    unsigned n_found = 0;
    struct rd start = n->c;
    for (int pass = 0; pass < 2; pass++) {
        n->c = start;
        uint16_t entries = pass ? args_arr(ar, r, "entries") : ARGS_NONE;
        for (uint64_t i = 0; i < actual && ndr_ok(n); i++) {
            if (!(nonnull[i / 8] & (1u << (i % 8))))
                continue;
            uint32_t tl = 0;
            const uint8_t *tw = read_tower(n, &tl);
            struct epm_tower t;
            if (!tw)
                break;
            if (!epm_tower_parse(tw, tl, &t)) {
                if (!pass)
                    args_bool(ar, r, "tower_malformed", true);
                continue;
            }
            if (!pass) {
                learn(w, call, &t);
                const struct iface_def *d = t.has_iface ? iface_find(&t.iface) : NULL;
                if (d && d->target && n_found < TARGETS)
                    found[n_found++] = t;
                continue;
            }
            if (ar->n + 16 > ARGS_MAX_NODES) {
                ar->truncated = true; /* no room for a whole entry: stop, rather than half */
                continue;
            }
            uint16_t e = args_obj(ar, entries, NULL);
            add_tower(ar, e, &t, true);
            if (i < KEEP && annotation[i][0])
                args_str(ar, e, "annotation", annotation[i]);
        }
        if (!pass) {
            uint16_t targets = args_arr(ar, r, "target_endpoints");
            for (unsigned k = 0; k < n_found; k++)
                add_tower(ar, args_obj(ar, targets, NULL), &found[k], true);
        }
    }
    uint32_t status = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, r);
    call->status = status;
    call->has_status = true;
}

static const struct iface_op ops[] = {
    [0] = {"ept_insert", RPC_CLASS_OTHER, NULL, NULL},
    [1] = {"ept_delete", RPC_CLASS_OTHER, NULL, NULL},
    [2] = {"ept_lookup", RPC_CLASS_READ, req_lookup, res_lookup},
    [3] = {"ept_map", RPC_CLASS_READ, req_map, res_map},
    [4] = {"ept_lookup_handle_free", RPC_CLASS_OTHER, NULL, NULL},
    [5] = {"ept_inq_object", RPC_CLASS_READ, NULL, NULL},
    [6] = {"ept_mgmt_delete", RPC_CLASS_OTHER, NULL, NULL},
};

const struct iface_def iface_epm = {
    .uuid = UUID_LIT(0xe1af8308, 0x5d1f, 0x11c9, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa),
    .ver_major = 3,
    .ver_minor = 0,
    .name = "epm",
    .service = "epmapper",
    .spec = "C706",
    .target = false,
    .pipes = "epmapper",
    .attack = NULL,
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
};
