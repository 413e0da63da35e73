/*
 * Decides what a TCP flow carries and feeds the matching engine.
 * Probing looks only at the first bytes of each direction; the common case
 * (a flow that is neither DCE/RPC nor SMB) is decided on its first payload
 * and never allocates.
 */
#include <string.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/flow_record.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/smb.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

#define PROBE_KEEP 24 /* bytes kept while a header arrives in pieces */
#define PROBE_TRIES 8 /* chunks per direction probed when the stream start was not seen */

struct transport_state {
    struct rpc_transport info; /* what records say about where calls ran */
    uint64_t tx_counter;
    char community_id[COMMUNITY_ID_LEN];
    struct dce_assoc *dce; /* FLOW_APP_DCERPC */
    struct smb_conn *smb;  /* FLOW_APP_SMB */
    /* while probing */
    uint8_t probe[2][PROBE_KEEP];
    uint8_t probe_len[2];
    uint8_t tries[2];
    struct stream_window *raw; /* when byte-level fallback rules are loaded */
};

enum transport_probe transport_probe(const uint8_t *p, size_t n)
{
    int d = dce_hdr_check(p, n, NULL);
    if (d == 1)
        return PROBE_DCERPC;
    enum transport_probe s = smb_probe(p, n);
    if (s == PROBE_SMB)
        return PROBE_SMB;
    if (d == 0 || s == PROBE_NEED_MORE)
        return PROBE_NEED_MORE;
    return PROBE_NO;
}

static bool port_is(const struct flow *f, uint16_t port)
{
    return f->ref.key.port[0] == port || f->ref.key.port[1] == port;
}

/* Did the endpoint mapper announce one of this flow's endpoints? */
static bool announced(struct worker *w, const struct flow *f)
{
    const struct flow_key *k = &f->ref.key;
    struct epm_entry e;
    for (int ep = 0; ep < 2; ep++)
        if (epm_lookup(w, k->addr[ep], k->ipver, k->port[ep], &e))
            return true;
    return false;
}

/* The DCE/RPC engine's question (rpc_transport.mapper_hint): the interface announced on
   one of the connection's endpoints. */
static bool mapper_hint(struct worker *w, const struct rpc_transport *t, struct uuid *iface,
                        uint16_t *ver_major)
{
    const struct flow_key *k = &t->flow->key;
    struct epm_entry e;
    for (int ep = 0; ep < 2; ep++)
        if (epm_lookup(w, k->addr[ep], k->ipver, k->port[ep], &e)) {
            *iface = e.iface;
            *ver_major = e.ver_major;
            return true;
        }
    return false;
}

static struct transport_state *state_get(struct worker *w, struct flow *f)
{
    if (!f->app_state) {
        struct transport_state *s = mem_calloc(&w->mem, MEM_APP, sizeof *s);
        if (!s)
            return NULL;
        s->info.flow = &f->ref;
        s->info.tx_counter = &s->tx_counter;
        s->info.community_id = s->community_id;
        f->app_state = s;
    }
    return f->app_state;
}

static void state_free(struct worker *w, struct flow *f)
{
    struct transport_state *s = f->app_state;
    if (!s)
        return;
    dce_assoc_free(w, s->dce);
    smb_conn_free(w, s->smb);
    if (s->raw)
        mem_free(&w->mem, MEM_APP, s->raw, sizeof *s->raw);
    mem_free(&w->mem, MEM_APP, s, sizeof *s);
    f->app_state = NULL;
}

void transport_prefetch(const struct flow *f, int step)
{
    const struct transport_state *s = f->app_state;
    if (!s)
        return;
    if (step == 0) {
        for (size_t i = 0; i < sizeof *s; i += 64)
            __builtin_prefetch((const char *)s + i);
        return;
    }
    /* what an engine reads of every message sits in its first lines (the SMB connection's
       first five, the DCE/RPC association's first four: their layouts say so) */
    const char *e = f->app == FLOW_APP_SMB      ? (const char *)s->smb
                    : f->app == FLOW_APP_DCERPC ? (const char *)s->dce
                                                : NULL;
    int lines = f->app == FLOW_APP_SMB ? 5 : 4;
    if (e)
        for (int i = 0; i < lines; i++)
            __builtin_prefetch(e + 64 * i);
}

static void feed(struct worker *w, struct flow *f, int ep, const uint8_t *d, size_t n)
{
    struct transport_state *s = f->app_state;
    if (!s || !n)
        return;
    if (f->app == FLOW_APP_DCERPC && s->dce)
        dce_data(w, s->dce, ep, d, n);
    else if (f->app == FLOW_APP_SMB && s->smb)
        smb_data(w, s->smb, ep, d, n);
}

/* Turns the engine on; replays what the probe held, the other direction's first. */
static void engage(struct worker *w, struct flow *f, enum flow_app app, bool synced, int ep)
{
    struct transport_state *s = state_get(w, f);
    if (!s) {
        f->app = FLOW_APP_IGNORED;
        return;
    }
    if (app == FLOW_APP_DCERPC) {
        s->info.kind = RPC_TRANSPORT_TCP;
        s->info.mapper_hint = mapper_hint;
        s->dce = dce_assoc_new(w, &s->info);
        w->stats.app_dcerpc_flows++;
        /* calls whose bind is not seen are named from the mapper's answers (dce.c) */
        if (s->dce && !synced)
            dce_gap(w, s->dce, ep);
    } else {
        s->smb = smb_conn_new(w, &s->info, synced);
        w->stats.app_smb_flows++;
    }
    if (!s->dce && !s->smb) {
        state_free(w, f);
        f->app = FLOW_APP_IGNORED;
        return;
    }
    f->app = (uint8_t)app;
    int other = 1 - ep;
    if (s->probe_len[other]) {
        if (app == FLOW_APP_DCERPC && s->dce)
            dce_gap(w, s->dce, other); /* its start was not a header: scan it */
        feed(w, f, other, s->probe[other], s->probe_len[other]);
    }
    if (s->probe_len[ep])
        feed(w, f, ep, s->probe[ep], s->probe_len[ep]);
    s->probe_len[0] = s->probe_len[1] = 0;
}

static void ignore(struct worker *w, struct flow *f)
{
    w->stats.app_ignored_flows++;
    if (detect_has_stream_rules(w->detect)) {
        /* not ours to parse, but fallback rules read every stream */
        struct transport_state *s = f->app_state;
        if (s) {
            dce_assoc_free(w, s->dce);
            smb_conn_free(w, s->smb);
            s->dce = NULL;
            s->smb = NULL;
        }
        f->app = FLOW_APP_RAW;
        return;
    }
    state_free(w, f);
    f->app = FLOW_APP_IGNORED;
}

/* Byte-level fallback rules over the raw bytes of the stream. */
static void raw_inspect(struct worker *w, struct flow *f, int ep, const uint8_t *d, size_t n)
{
    struct transport_state *s = state_get(w, f);
    if (!s)
        return;
    if (!s->raw && !(s->raw = mem_calloc(&w->mem, MEM_APP, sizeof *s->raw)))
        return;
    detect_stream(w, &f->ref, ep, d, n, s->raw);
}

/* True when this direction's first bytes are the real start of the stream. */
static bool saw_start(const struct flow *f, int ep)
{
    return (f->flags_seen[ep] & 0x02 /* SYN */) != 0;
}

static void probe(struct worker *w, struct flow *f, int ep, const uint8_t *d, size_t n)
{
    struct transport_state *s = f->app_state;
    const uint8_t *p = d;
    size_t pn = n;
    uint8_t tmp[PROBE_KEEP];
    if (s && s->probe_len[ep]) {
        /* earlier bytes of this direction were too few to decide */
        size_t have = s->probe_len[ep];
        size_t add = n < PROBE_KEEP - have ? n : PROBE_KEEP - have;
        memcpy(tmp, s->probe[ep], have);
        memcpy(tmp + have, d, add);
        p = tmp;
        pn = have + add;
    }
    enum transport_probe v = transport_probe(p, pn);
    if (v == PROBE_DCERPC || v == PROBE_SMB) {
        enum flow_app app = v == PROBE_DCERPC ? FLOW_APP_DCERPC : FLOW_APP_SMB;
        engage(w, f, app, true, ep);
        if (f->app == app)
            feed(w, f, ep, d, n);
        return;
    }
    if (v == PROBE_NEED_MORE && pn < PROBE_KEEP) {
        s = state_get(w, f);
        if (!s) {
            ignore(w, f);
            return;
        }
        size_t have = s->probe_len[ep];
        size_t add = n < PROBE_KEEP - have ? n : PROBE_KEEP - have;
        memcpy(s->probe[ep] + have, d, add);
        s->probe_len[ep] = (uint8_t)(have + add);
        return;
    }
    /*
     * Not a header. On the RPC ports the engines take it anyway and find the
     * next PDU; elsewhere a stream whose start we saw is not ours, and one
     * picked up mid-way gets a few more chances at a segment boundary.
     */
    if (port_is(f, 135) || port_is(f, 445) || port_is(f, 139) || announced(w, f)) {
        enum flow_app app = port_is(f, 445) || port_is(f, 139) ? FLOW_APP_SMB : FLOW_APP_DCERPC;
        engage(w, f, app, false, ep);
        if (f->app == app)
            feed(w, f, ep, d, n);
        return;
    }
    if (w->appid_held_flow == f)
        w->appid_due(w, f); /* nDPI sees the packet flow.c held back (worker.h) */
    int hint = f->app_hint; /* nDPI's verdict (flow/appid.c) */
    if (hint) {
        /* nDPI recognised DCE/RPC or SMB where the first bytes were not a header */
        w->stats.appid_handoffs++;
        engage(w, f, (enum flow_app)hint, false, ep);
        if (f->app == hint)
            feed(w, f, ep, d, n);
        return;
    }
    if (saw_start(f, ep)) {
        ignore(w, f);
        return;
    }
    s = state_get(w, f);
    if (!s || ++s->tries[ep] >= PROBE_TRIES) {
        ignore(w, f);
        return;
    }
    s->probe_len[ep] = 0;
}

void transport_data(struct worker *w, struct flow *f, int ep, const uint8_t *d, size_t n)
{
    if (detect_has_stream_rules(w->detect))
        raw_inspect(w, f, ep, d, n);
    if (f->app == FLOW_APP_RAW)
        return;
    if (f->app == FLOW_APP_UNKNOWN)
        probe(w, f, ep, d, n);
    else
        feed(w, f, ep, d, n);
}

void transport_gap(struct worker *w, struct flow *f, int ep, uint32_t len)
{
    struct transport_state *s = f->app_state;
    (void)len;
    if (!s)
        return;
    if (f->app == FLOW_APP_DCERPC && s->dce)
        dce_gap(w, s->dce, ep);
    else if (f->app == FLOW_APP_SMB && s->smb)
        smb_gap(w, s->smb, ep);
    else
        s->probe_len[ep] = 0;
}

void transport_end(struct worker *w, struct flow *f)
{
    state_free(w, f);
}

void transport_worker_free(struct worker *w)
{
    smb_registry_free(w);
    epm_table_free(w);
}

void transport_forget(struct worker *w)
{
    smb_registry_free(w); /* made again when a session is next learnt */
    epm_forget(w);
}
