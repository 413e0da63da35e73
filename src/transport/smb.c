/*
 * SMB (ncacn_np): NetBIOS session framing, SMB2/3 and SMB1 commands that
 * open, write, read, transceive and close named pipes, and the sessions
 * (with their NTLMSSP identity) and trees those pipes live in. Each pipe
 * instance gets its own DCE/RPC association fed with one byte stream per
 * direction, however the bytes were split across SMB commands.
 *
 * Only what pipes need is kept: file data on disk shares is skipped without
 * being buffered, and every table is bounded.
 */
#include "rpcsentry/smb.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/ntlmssp.h"
#include "rpcsentry/smb_file.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"
#include "smb_internal.h"

void smb_anomaly(struct worker *w, struct smb_conn *c, enum anomaly_type t, const char *why)
{
    anomaly_raise(w, c->flow, &c->anomalies_seen, t, why);
}

/* ---- probe ---- */

enum transport_probe smb_probe(const uint8_t *p, size_t n)
{
    struct rd c = rd_init(p, n);
    if (!rd_has(&c, 1))
        return PROBE_NEED_MORE;
    uint8_t type = rd_u8(&c);
    if (type != 0x00)
        return PROBE_NO;
    if (!rd_has(&c, 7))
        return PROBE_NEED_MORE;
    rd_skip(&c, 3);
    uint8_t m0 = rd_u8(&c), m1 = rd_u8(&c), m2 = rd_u8(&c), m3 = rd_u8(&c);
    if ((m0 == 0xff || m0 == 0xfe || m0 == 0xfd || m0 == 0xfc) && m1 == 'S' && m2 == 'M' &&
        m3 == 'B')
        return PROBE_SMB;
    return PROBE_NO;
}

/* ---- tables ---- */

static struct smb_session *session_get(struct worker *w, struct smb_conn *c, uint64_t id,
                                       bool create)
{
    for (struct smb_session *s = c->sessions; s; s = s->next)
        if (s->id == id)
            return s;
    if (!create || c->n_sessions >= SMB_MAX_SESSIONS)
        return NULL;
    struct smb_session *s = mem_calloc(&w->mem, MEM_APP, sizeof *s);
    if (!s)
        return NULL;
    s->id = id;
    s->next = c->sessions;
    c->sessions = s;
    c->n_sessions++;
    return s;
}

static unsigned reg_bucket(const uint8_t server[16], uint64_t session)
{
    return (unsigned)(hash64(server, 16, session) % SMB_REG_BUCKETS);
}

static struct smb_reg_entry *reg_find(struct worker *w, struct smb_conn *c, uint64_t session,
                                      bool create)
{
    if (c->server_ep < 0)
        return NULL;
    if (!w->smb_registry) {
        if (!create)
            return NULL;
        w->smb_registry = mem_calloc(&w->mem, MEM_APP, sizeof *w->smb_registry);
        if (!w->smb_registry)
            return NULL;
        memset(w->smb_registry->head, 0xff, sizeof w->smb_registry->head);
    }
    struct smb_registry *r = w->smb_registry;
    const uint8_t *server = c->flow->key.addr[c->server_ep];
    unsigned b = reg_bucket(server, session);
    for (int i = r->head[b]; i >= 0; i = r->chain[i])
        if (r->e[i].session == session && memcmp(r->e[i].server, server, 16) == 0)
            return &r->e[i];
    if (!create)
        return NULL;
    int k = (int)(r->next++ % SMB_REG_MAX); /* the oldest makes room */
    struct smb_reg_entry *e = &r->e[k];
    if (e->used) { /* out of its bucket's chain */
        int16_t *link = &r->head[reg_bucket(e->server, e->session)];
        while (*link != k)
            link = &r->chain[*link];
        *link = r->chain[k];
    }
    memset(e, 0, sizeof *e);
    e->used = true;
    e->session = session;
    memcpy(e->server, server, 16);
    r->chain[k] = r->head[b];
    r->head[b] = (int16_t)k;
    return e;
}

void smb_registry_free(struct worker *w)
{
    if (w->smb_registry)
        mem_free(&w->mem, MEM_APP, w->smb_registry, sizeof *w->smb_registry);
    w->smb_registry = NULL;
    smb3_table_free(w);
}

/* A tree of the session: on this connection, or set up on another channel of the session. */
struct smb_tree *smb_tree_find(struct worker *w, struct smb_conn *c, uint64_t session, uint32_t id)
{
    for (struct smb_tree *t = c->trees; t; t = t->next)
        if (t->id == id && t->session == session)
            return t;
    struct smb_reg_entry *e = reg_find(w, c, session, false);
    for (unsigned i = 0; e && i < e->n_trees; i++)
        if (e->trees[i].id == id) {
            struct smb_reg_tree copy = e->trees[i]; /* tree_add writes the registry again */
            smb_tree_add(w, c, id, session, copy.share, copy.ipc);
            for (struct smb_tree *t = c->trees; t; t = t->next)
                if (t->id == id && t->session == session)
                    return t;
        }
    return NULL;
}

void smb_tree_add(struct worker *w, struct smb_conn *c, uint32_t id, uint64_t session,
                  const char *share, bool ipc)
{
    struct smb_reg_entry *e = reg_find(w, c, session, true);
    if (e) {
        unsigned i = 0;
        while (i < e->n_trees && e->trees[i].id != id)
            i++;
        if (i < SMB_REG_TREES) {
            e->trees[i].id = id;
            e->trees[i].ipc = ipc;
            snprintf(e->trees[i].share, sizeof e->trees[i].share, "%s", share);
            if (i == e->n_trees)
                e->n_trees++;
        }
    }
    struct smb_tree *t = NULL;
    for (struct smb_tree *x = c->trees; x; x = x->next)
        if (x->id == id && x->session == session)
            t = x;
    if (!t) {
        if (c->n_trees >= SMB_MAX_TREES)
            return;
        t = mem_calloc(&w->mem, MEM_APP, sizeof *t);
        if (!t)
            return;
        t->next = c->trees;
        c->trees = t;
        c->n_trees++;
    }
    t->id = id;
    t->session = session;
    t->ipc = ipc;
    snprintf(t->share, sizeof t->share, "%s", share);
}

/* The pipe used moves to the front: the list runs from most to least recently used,
 * and a flood of opens evicts the pipe idle longest, not one bound and in use. */
struct smb_pipe *smb_pipe_by_fid(struct smb_conn *c, const uint8_t *fid, size_t n)
{
    for (struct smb_pipe **pp = &c->pipes; *pp; pp = &(*pp)->next) {
        struct smb_pipe *p = *pp;
        if (p->open && smb_fid_eq(p->fid, fid, n)) {
            if (pp != &c->pipes) {
                *pp = p->next;
                p->next = c->pipes;
                c->pipes = p;
            }
            return p;
        }
    }
    return NULL;
}

struct smb_pipe *smb_pipe_by_create(struct smb_conn *c, uint64_t msg)
{
    for (struct smb_pipe *p = c->pipes; p; p = p->next)
        if (!p->open && !p->closing && p->create_msg == msg)
            return p;
    return NULL;
}

/* Which pipe a pending request is about: by FileId, or, when it was opened in
 * the same compounded chain (FileId not known when asked), by its CREATE. */
void smb_pend_set_pipe(struct smb_pending *q, const struct smb_pipe *p)
{
    memcpy(q->fid, p->fid, 16);
    q->by_create = !p->open;
    q->create_msg = p->create_msg;
}

struct smb_pipe *smb_pend_pipe(struct smb_conn *c, const struct smb_pending *q)
{
    if (q->by_create) {
        for (struct smb_pipe *p = c->pipes; p; p = p->next)
            if (p->create_msg == q->create_msg && !p->closing)
                return p;
        return NULL;
    }
    return smb_pipe_by_fid(c, q->fid, 16);
}

/* Why what is held for a pipe is sent on (held_drain). */
enum drain_why {
    DRAIN_ANSWER, /* an answer came: what is answered goes, up to the first unanswered */
    DRAIN_REPLY,  /* the server answered a later request: unanswered data before it goes */
    DRAIN_END,    /* the pipe or connection ends, or no room: everything goes */
    DRAIN_REFUSE  /* the pipe's CREATE failed: nothing goes */
};
static void held_drain(struct worker *w, struct smb_conn *c, struct smb_pipe *p, enum drain_why why,
                       uint64_t before);

/*
 * Pipes remote-execution tools open by name, for the ones whose service talks its own
 * protocol over them (facts: each tool's published pipe names). Matched on the start of
 * the name, in any case.
 */
static const struct {
    const char *prefix, *tool;
} tool_pipes[] = {
    {"PSEXESVC", "PsExec"},        /* \PSEXESVC, \PSEXESVC-HOST-PID-stdin|stdout|stderr */
    {"psexecsvc", "PsExec"},       /* older PsExec, and CSExec, which mimics it */
    {"pskllsvc", "PsKill"},        /* Sysinternals PsKill's service */
    {"RemCom_", "RemCom"},         /* RemCom, and impacket psexec's RemComSvc */
    {"PAExec", "PAExec"},          /* PAExec, and pypsexec, which uses it */
    {"csexecsvc", "CSExec"},       /* CSExec */
    {"ahexec", "winexe"},          /* winexe's winexesvc */
    {"msagent_", "Cobalt Strike"}, /* the SMB beacon's default pipe */
    {"postex_", "Cobalt Strike"},  /* post-exploitation jobs' default pipes */
    {"MSSE-", "Cobalt Strike"},    /* the default artifact's pipe */
};

static const char *pipe_tool(const char *name)
{
    for (size_t i = 0; i < sizeof tool_pipes / sizeof tool_pipes[0]; i++)
        if (strncasecmp(name, tool_pipes[i].prefix, strlen(tool_pipes[i].prefix)) == 0)
            return tool_pipes[i].tool;
    return NULL;
}

/* A pipe that ends: a record if a tool's name or bytes other than DCE/RPC make it one. */
static void pipe_record(struct worker *w, struct smb_conn *c, struct smb_pipe *p, bool closed)
{
    bool other = p->carries == PIPE_OTHER && (p->other_bytes[0] || p->other_bytes[1]);
    if (!w->on_pipe || !p->name[0] || (!p->tool && !other))
        return;
    int client = c->server_ep >= 0 ? 1 - c->server_ep : 0;
    struct smb_pipe_record r;
    memset(&r, 0, sizeof r);
    r.flow = c->flow;
    r.community_id = c->community_id;
    r.client_ep = client;
    r.ts_us = w->now_us;
    r.pcap_cnt = w->pcap_cnt;
    r.open_us = p->open_us;
    r.open_pcap_cnt = p->open_cnt;
    r.dialect = c->dialect;
    r.smb1 = p->smb1;
    r.session_id = p->info.smb_session_id;
    r.tree_id = p->info.smb_tree_id;
    r.share = p->share;
    r.name = p->name;
    r.identity = p->info.smb_identity;
    r.tool = p->tool;
    r.control = p->tool && !strstr(p->name, "-stdin") && !strstr(p->name, "-stdout") &&
                !strstr(p->name, "-stderr") && strncasecmp(p->name, "RemCom_std", 10) != 0;
    r.fid = p->fid;
    r.rpc = p->carries == PIPE_RPC;
    r.opened = p->open || p->closing;
    r.refused = p->refused;
    r.bytes_to_server = p->other_bytes[client];
    r.bytes_to_client = p->other_bytes[1 - client];
    r.closed = closed;
    w->stats.smb_tool_pipes += p->tool != NULL;
    w->on_pipe(w, &r);
}

void smb_pipe_free(struct worker *w, struct smb_conn *c, struct smb_pipe *p)
{
    if (p->n_held) /* evicted, or the connection ends: what is held goes, unanswered */
        held_drain(w, c, p, DRAIN_END, UINT64_MAX);
    pipe_record(w, c, p, p->closing || p->closed);
    struct smb_pipe **pp = &c->pipes;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    c->n_pipes--;
    dce_assoc_free(w, p->dce);
    mem_free(&w->mem, MEM_APP, p, sizeof *p);
}

/* The session's identity: learned on this connection, or on another channel. */
const struct rpc_identity *smb_identity_of(struct worker *w, struct smb_conn *c, uint64_t id)
{
    struct smb_session *s = session_get(w, c, id, false);
    if (s)
        return &s->identity;
    struct smb_reg_entry *e = reg_find(w, c, id, false);
    if (!e || !e->has_identity || !(s = session_get(w, c, id, true)))
        return NULL;
    s->identity = e->identity;
    return &s->identity;
}

/* A session's user is known: on the connection and for its other channels. */
void smb_session_learn(struct worker *w, struct smb_conn *c, uint64_t id,
                       const struct rpc_identity *ident)
{
    struct smb_session *s = session_get(w, c, id, true);
    if (s)
        s->identity = *ident;
    struct smb_reg_entry *e = reg_find(w, c, id, true);
    if (e) {
        e->identity = *ident;
        e->has_identity = true;
    }
}

/* The registry's record of a pipe of this session (SMB 3 multichannel), or NULL. */
struct smb_reg_pipe *smb_reg_pipe(struct worker *w, struct smb_conn *c, uint64_t session,
                                  const uint8_t *fid, bool create)
{
    struct smb_reg_entry *e = reg_find(w, c, session, create);
    if (!e)
        return NULL;
    static const uint8_t zero[16];
    for (unsigned i = 0; i < SMB_REG_PIPES; i++)
        if (memcmp(e->pipes[i].fid, fid, 16) == 0 && memcmp(fid, zero, 16) != 0)
            return &e->pipes[i];
    if (!create)
        return NULL;
    struct smb_reg_pipe *rp = &e->pipes[e->next_pipe++ % SMB_REG_PIPES];
    memset(rp, 0, sizeof *rp);
    memcpy(rp->fid, fid, 16);
    return rp;
}

/* "\PIPE\svcctl", "\svcctl", "svcctl" -> "svcctl" */
static void pipe_name_normalise(const char *in, char *out, size_t n)
{
    while (*in == '\\' || *in == '/')
        in++;
    if (strncasecmp(in, "pipe\\", 5) == 0 || strncasecmp(in, "pipe/", 5) == 0)
        in += 5;
    snprintf(out, n, "%s", in);
}

/* Interface hint for a new pipe: its name's one interface, or what an earlier bind on a
 * pipe of that name said; otherwise the candidates are listed. */
static void pipe_set_hint(struct smb_conn *c, struct smb_pipe *p)
{
    for (unsigned i = 0; i < c->n_learned; i++)
        if (strcasecmp(c->learned[i].name, p->name) == 0) {
            dce_set_iface_hint(p->dce, &c->learned[i].uuid, c->learned[i].ver_major, DCE_HINT_PIPE);
            p->info.iface_candidates = NULL;
            return;
        }
    const struct iface_def *cands[8];
    size_t n = p->name[0] ? iface_for_pipe(p->name, cands, 8) : 0;
    if (n == 1) {
        dce_set_iface_hint(p->dce, &cands[0]->uuid, cands[0]->ver_major, DCE_HINT_PIPE);
    } else if (n > 1) {
        /* e.g. \atsvc: ATSvc, ITaskSchedulerService or SASec; a bind will say. The pipe's
           own: a ring of a few shared by all pipes (and workers) was overwritten by the
           ninth pipe's list, or by another worker's */
        char *l = p->candidates;
        l[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            size_t used = strlen(l);
            snprintf(l + used, sizeof p->candidates - used, "%s%s", i ? " " : "", cands[i]->name);
        }
        p->info.iface_candidates = l;
    }
}

struct smb_pipe *smb_pipe_new(struct worker *w, struct smb_conn *c, const char *name,
                              const char *share, uint64_t session, uint32_t tree)
{
    if (c->n_pipes >= SMB_MAX_PIPES) {
        /* a flood of pipes: the one used least recently (last in the list) makes room,
         * one with no accepted bind first, so that opening many pipes does not push out
         * the bound pipe a call is about to use */
        struct smb_pipe *old = NULL, *unbound = NULL;
        for (struct smb_pipe *x = c->pipes; x; x = x->next) {
            old = x;
            if (!dce_first_context(x->dce))
                unbound = x;
        }
        if (unbound)
            old = unbound;
        smb_anomaly(w, c, ANOM_SMB_TOO_MANY_PIPES, NULL);
        if (old)
            smb_pipe_free(w, c, old);
    }
    struct smb_pipe *p = mem_calloc(&w->mem, MEM_APP, sizeof *p);
    if (!p)
        return NULL;
    pipe_name_normalise(name, p->name, sizeof p->name);
    snprintf(p->share, sizeof p->share, "%s", share ? share : "");
    p->info.kind = RPC_TRANSPORT_NP;
    p->info.flow = c->flow;
    p->info.tx_counter = c->tx_counter;
    p->info.community_id = c->community_id;
    p->info.pipe = p->name;
    p->info.share = p->share[0] ? p->share : NULL;
    p->info.smb_session_id = session;
    p->info.smb_tree_id = tree;
    p->info.smb_dialect = c->dialect;
    p->info.smb_identity = smb_identity_of(w, c, session);
    p->tool = p->name[0] ? pipe_tool(p->name) : NULL;
    p->open_us = w->now_us;
    p->open_cnt = w->pcap_cnt;
    p->dce = dce_assoc_new(w, &p->info);
    if (!p->dce) {
        mem_free(&w->mem, MEM_APP, p, sizeof *p);
        return NULL;
    }
    pipe_set_hint(c, p);
    const struct iface_def *any[1];
    p->carries = p->name[0] && iface_for_pipe(p->name, any, 1) ? PIPE_RPC : PIPE_UNDECIDED;
    p->next = c->pipes;
    c->pipes = p;
    c->n_pipes++;
    return p;
}

/* After data went into a pipe: remember what its first bind named, for siblings. */
static void pipe_learn(struct worker *w, struct smb_conn *c, struct smb_pipe *p)
{
    if (p->learned || !p->name[0])
        return;
    const struct rpc_ctx_item *ctx = dce_first_context(p->dce);
    if (!ctx)
        return;
    p->learned = true;
    struct smb_reg_pipe *rp = smb_reg_pipe(w, c, p->info.smb_session_id, p->fid, false);
    if (rp) { /* another channel of the session may use this FileId */
        rp->has_iface = true;
        rp->uuid = ctx->uuid;
        rp->ver_major = ctx->ver_major;
    }
    for (unsigned i = 0; i < c->n_learned; i++)
        if (strcasecmp(c->learned[i].name, p->name) == 0)
            return;
    if (c->n_learned >= sizeof c->learned / sizeof c->learned[0])
        return;
    struct learned_iface *l = &c->learned[c->n_learned++];
    snprintf(l->name, sizeof l->name, "%s", p->name);
    l->uuid = ctx->uuid;
    l->ver_major = ctx->ver_major;
}

/* Whether p carries DCE/RPC: decided by its name, or by the first bytes it is given. */
static bool pipe_is_rpc(struct smb_conn *c, struct smb_pipe *p, int ep, const uint8_t *d, size_t n)
{
    if (p->carries == PIPE_UNDECIDED)
        p->carries = dce_hdr_check(d, n, NULL) >= 0 ? PIPE_RPC : PIPE_OTHER;
    if (p->carries != PIPE_RPC) {
        p->other_bytes[ep & 1] += n;
        return false;
    }
    if (c->decrypting)
        p->info.smb_encrypted = true;
    return true;
}

static void pipe_feed(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                      const uint8_t *d, size_t n)
{
    dce_data(w, p->dce, ep, d, n);
    pipe_learn(w, c, p);
}

/* Data for an RPC pipe now: what was written to it before goes first. */
static void pipe_deliver(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                         const uint8_t *d, size_t n)
{
    if (p->n_held)
        held_drain(w, c, p, DRAIN_END, UINT64_MAX);
    pipe_feed(w, c, p, ep, d, n);
}

void smb_pipe_data(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                   const uint8_t *d, size_t n)
{
    if (p && n && pipe_is_rpc(c, p, ep, d, n))
        pipe_deliver(w, c, p, ep, d, n);
}

void smb_pipe_reply(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                    const uint8_t *d, size_t n, const struct smb_pending *q)
{
    if (!p || !n || !pipe_is_rpc(c, p, ep, d, n))
        return;
    /* a READ answered before the WRITE sent after it (a compound's answers in order):
       that WRITE still waits for its own answer */
    if (p->n_held)
        held_drain(w, c, p, DRAIN_REPLY, q ? q->seq : UINT64_MAX);
    pipe_feed(w, c, p, ep, d, n);
}

/* ---- writes held until their answer ---- */

static void held_free(struct worker *w, struct smb_conn *c, struct smb_held *h)
{
    if (h->q)
        h->q->held = NULL;
    h->pipe->n_held--;
    c->n_held--;
    mem_free(&w->mem, MEM_APP, h, sizeof *h + h->len);
}

/*
 * Sends on what is held for p, oldest first: data the server took into the pipe (with
 * the capture time and packet of its request), refused data nowhere; it stops at data
 * still unanswered, unless why says it goes (written before request `before`). Such
 * data is counted; a server that answered a later request and not this one, with no
 * gap in its bytes to excuse it, is an anomaly. A capture that ends first is not.
 */
static void held_drain(struct worker *w, struct smb_conn *c, struct smb_pipe *p, enum drain_why why,
                       uint64_t before)
{
    struct smb_held **hp = &c->held;
    while (*hp && p->n_held) {
        struct smb_held *h = *hp;
        if (h->pipe != p) {
            hp = &h->next;
            continue;
        }
        if (h->state == HELD_WAIT &&
            (why == DRAIN_ANSWER || (why == DRAIN_REPLY && h->seq >= before)))
            break;
        *hp = h->next;
        if (c->held_tail == &h->next)
            c->held_tail = hp;
        if (why == DRAIN_REFUSE || h->state == HELD_REFUSED) {
            char status[HEX32_STR_LEN], detail[64];
            hex32_str(status, h->status);
            snprintf(detail, sizeof detail, "%s answered %s", h->what, status);
            w->stats.smb_write_refused++;
            smb_anomaly(w, c, ANOM_SMB_WRITE_REFUSED,
                        why == DRAIN_REFUSE ? "the pipe's CREATE failed" : detail);
        } else {
            if (h->state == HELD_WAIT) {
                w->stats.smb_write_unanswered++;
                if (why == DRAIN_REPLY && !h->answer_lost)
                    smb_anomaly(w, c, ANOM_SMB_WRITE_UNANSWERED, h->what);
            }
            uint64_t now = w->now_us, cnt = w->pcap_cnt;
            w->now_us = h->now_us;
            w->pcap_cnt = h->pcap_cnt;
            pipe_feed(w, c, p, h->ep, h->data, h->len);
            w->now_us = now;
            w->pcap_cnt = cnt;
        }
        held_free(w, c, h);
    }
}

void smb_pipe_write(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                    const uint8_t *d, size_t n, struct smb_pending *q, const char *what)
{
    if (!p || !n || !pipe_is_rpc(c, p, ep, d, n))
        return;
    if (!q || q->held || p->closing) {
        pipe_deliver(w, c, p, ep, d, n);
        return;
    }
    if (c->n_held >= SMB_MAX_HELD) /* answers that do not come: the oldest pipe's go on */
        held_drain(w, c, c->held->pipe, DRAIN_END, UINT64_MAX);
    struct smb_held *h = mem_alloc(&w->mem, MEM_APP, sizeof *h + n);
    if (!h) {
        pipe_deliver(w, c, p, ep, d, n);
        return;
    }
    memset(h, 0, sizeof *h);
    h->pipe = p;
    h->q = q;
    h->what = what;
    h->now_us = w->now_us;
    h->pcap_cnt = w->pcap_cnt;
    h->seq = q->seq;
    h->len = (uint32_t)n;
    h->ep = (uint8_t)ep;
    h->state = HELD_WAIT;
    memcpy(h->data, d, n);
    q->held = h;
    if (!c->held_tail)
        c->held_tail = &c->held;
    *c->held_tail = h;
    c->held_tail = &h->next;
    p->n_held++;
    c->n_held++;
}

void smb_pipe_write_msg(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                        const uint8_t *d, size_t n, uint64_t msg, const char *what)
{
    if (!p)
        return;
    struct smb_pending *q = c->answers_seen ? smb_pend_add(w, c, msg, PEND_WRITE) : NULL;
    smb_pipe_write(w, c, p, ep, d, n, q, what);
    if (q && !q->held) /* not held (not RPC, no room): no answer to wait for */
        smb_pend_free(w, smb_pend_take_kind(c, msg, PEND_WRITE));
}

void smb_answer(struct worker *w, struct smb_conn *c, struct smb_pending *q, bool ok,
                uint32_t status)
{
    struct smb_held *h = q ? q->held : NULL;
    if (!h)
        return;
    q->held = NULL;
    h->q = NULL;
    h->state = ok ? HELD_OK : HELD_REFUSED;
    h->status = status;
    struct smb_pipe *p = h->pipe;
    held_drain(w, c, p, DRAIN_ANSWER, 0);
    if (p->closing && !p->n_held)
        smb_pipe_free(w, c, p);
}

void smb_pipe_close(struct worker *w, struct smb_conn *c, struct smb_pipe *p)
{
    p->closed = true;
    if (!p->n_held) {
        smb_pipe_free(w, c, p);
        return;
    }
    /* gone for every later request; what was written before the CLOSE still awaits */
    p->closing = true;
    p->open = false;
}

void smb_pipe_discard(struct worker *w, struct smb_conn *c, struct smb_pipe *p)
{
    p->refused = true;
    if (p->n_held)
        held_drain(w, c, p, DRAIN_REFUSE, UINT64_MAX);
    smb_pipe_free(w, c, p);
}

struct smb_pending *smb_pend_add(struct worker *w, struct smb_conn *c, uint64_t msg,
                                 enum pend_kind kind)
{
    if (c->n_pending >= SMB_MAX_PENDING) {
        /* requests never answered (one-sided capture): drop the oldest */
        struct smb_pending **pp = &c->pending;
        while (*pp && (*pp)->next)
            pp = &(*pp)->next;
        if (*pp) {
            smb_pend_free(w, *pp);
            *pp = NULL;
            c->n_pending--;
        }
    }
    struct smb_pending *q = mem_calloc(&w->mem, MEM_APP, sizeof *q);
    if (!q)
        return NULL;
    q->msg_id = msg;
    q->kind = (uint8_t)kind;
    q->seq = c->req_seq++;
    q->next = c->pending;
    c->pending = q;
    c->n_pending++;
    return q;
}

/* Finds and unlinks the pending request answered by msg; the caller frees it. */
struct smb_pending *smb_pend_take(struct smb_conn *c, uint64_t msg)
{
    return smb_pend_take_kind(c, msg, PEND_ANY);
}

struct smb_pending *smb_pend_take_kind(struct smb_conn *c, uint64_t msg, enum pend_kind kind)
{
    for (struct smb_pending **pp = &c->pending; *pp; pp = &(*pp)->next)
        if ((*pp)->msg_id == msg && (kind == PEND_ANY || (*pp)->kind == kind)) {
            struct smb_pending *q = *pp;
            *pp = q->next;
            c->n_pending--;
            return q;
        }
    return NULL;
}

struct smb_pending *smb_pend_find(struct smb_conn *c, uint64_t msg)
{
    for (struct smb_pending *q = c->pending; q; q = q->next)
        if (q->msg_id == msg)
            return q;
    return NULL;
}

void smb_pend_free(struct worker *w, struct smb_pending *q)
{
    if (!q)
        return;
    if (q->held)
        q->held->q = NULL; /* what it wrote waits on, unanswered */
    if (q->parts)
        mem_free(&w->mem, MEM_APP, q->parts,
                 sizeof *q->parts + q->parts->total + (q->parts->total + 7) / 8);
    mem_free(&w->mem, MEM_APP, q, sizeof *q);
}

/* Is this tree a place where pipes live (IPC$), or unknown (picked up mid-stream)? */
bool smb_tree_may_hold_pipes(struct worker *w, struct smb_conn *c, uint64_t session,
                             uint32_t tree_id)
{
    struct smb_tree *t = smb_tree_find(w, c, session, tree_id);
    return !t || t->ipc;
}

/*
 * Data that runs past the bytes we have: malformed, unless the message was
 * too big to hold and only its start was read (file data): then a pipe it
 * was meant for has lost bytes, and anything else does not matter.
 */
void smb_data_missing(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                      const char *what)
{
    if (!c->partial)
        smb_anomaly(w, c, ANOM_SMB_MALFORMED, what);
    else if (p)
        dce_gap(w, p->dce, ep);
}

/* Data on a file we have not seen opened: a pipe if it carries DCE/RPC. */
void smb_fid_closed(struct worker *w, struct smb_conn *c, uint64_t session, const uint8_t fid[16])
{
    static const uint8_t zero[16];
    static const uint8_t related[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    /* the all-ones FileId of a related compound names "the file of this chain", not one */
    if (memcmp(fid, zero, 16) == 0 || memcmp(fid, related, 16) == 0)
        return;
    memcpy(c->closed[c->closed_next++ % SMB_CLOSED_FIDS], fid, 16);
    struct smb_reg_pipe *rp = smb_reg_pipe(w, c, session, fid, false);
    if (rp)
        memset(rp, 0, sizeof *rp); /* the session's other channels forget it too */
}

void smb_fid_opened(struct smb_conn *c, const uint8_t fid[16])
{
    for (unsigned i = 0; i < SMB_CLOSED_FIDS; i++)
        if (memcmp(c->closed[i], fid, 16) == 0)
            memset(c->closed[i], 0, 16);
}

static bool fid_closed(const struct smb_conn *c, const uint8_t fid[16])
{
    static const uint8_t zero[16];
    for (unsigned i = 0; i < SMB_CLOSED_FIDS; i++)
        if (memcmp(c->closed[i], fid, 16) == 0 && memcmp(fid, zero, 16) != 0)
            return true;
    return false;
}

struct smb_pipe *smb_adopt(struct worker *w, struct smb_conn *c, const uint8_t *fid, size_t fidlen,
                           uint64_t session, uint32_t tree, const uint8_t *d, size_t n)
{
    if (!smb_tree_may_hold_pipes(w, c, session, tree) || dce_hdr_check(d, n, NULL) != 1)
        return NULL;
    uint8_t key[16] = {0};
    memcpy(key, fid, fidlen < 16 ? fidlen : 16);
    if (fid_closed(c, key)) {
        /* the server answers STATUS_FILE_CLOSED: what is written there reaches no pipe */
        w->stats.smb_closed_fid++;
        smb_anomaly(w, c, ANOM_SMB_CLOSED_FID, NULL);
        return NULL;
    }
    struct smb_tree *t = smb_tree_find(w, c, session, tree);
    /* opened on another channel of the session (SMB 3 multichannel): its name and bind */
    uint8_t full[16] = {0};
    memcpy(full, fid, fidlen < 16 ? fidlen : 16);
    struct smb_reg_pipe *rp = fidlen == 16 ? smb_reg_pipe(w, c, session, full, false) : NULL;
    struct smb_reg_pipe known;
    if (rp)
        known = *rp; /* pipe_new may write the registry */
    struct smb_pipe *p =
        smb_pipe_new(w, c, rp ? known.name : "", t ? t->share : NULL, session, tree);
    if (!p)
        return NULL;
    memcpy(p->fid, fid, fidlen);
    p->open = true;
    if (rp && known.has_iface) {
        dce_set_iface_hint(p->dce, &known.uuid, known.ver_major, DCE_HINT_PIPE);
        p->info.iface_candidates = NULL;
        p->learned = true;
    }
    return p;
}

/* ---- framing ---- */

static void smb_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg,
                        size_t len)
{
    struct rd m = rd_init(msg, len);
    uint8_t m0 = rd_u8(&m), m1 = rd_u8(&m), m2 = rd_u8(&m), m3 = rd_u8(&m);
    if (!rd_ok(&m) || m1 != 'S' || m2 != 'M' || m3 != 'B') {
        smb_anomaly(w, c, ANOM_SMB_MALFORMED, "NetBIOS message without an SMB signature");
        return;
    }
    switch (m0) {
    case 0xfe: smb2_message(w, c, ep, msg, len); break;
    case 0xff: smb1_message(w, c, ep, msg, len); break;
    case 0xfd:
        if (w->cfg->keys)
            smb3_transform(w, c, ep, msg, len);
        else
            smb_anomaly(w, c, ANOM_SMB_ENCRYPTED, NULL);
        break;
    case 0xfc: break; /* compressed: not decoded */
    default: smb_anomaly(w, c, ANOM_SMB_MALFORMED, "unknown SMB protocol id"); break;
    }
}

struct smb_conn *smb_conn_new(struct worker *w, const struct rpc_transport *tcp, bool synced)
{
    struct smb_conn *c = mem_calloc(&w->mem, MEM_APP, sizeof *c);
    if (!c)
        return NULL;
    c->flow = tcp->flow;
    c->server_ep = -1;
    c->tx_counter = tcp->tx_counter;
    c->community_id = tcp->community_id;
    for (int i = 0; i < 2; i++) {
        buf_init(&c->dir[i].acc, &w->mem, MEM_APP, SMB_BUF_MAX + NBSS_HDR);
        c->dir[i].synced = synced;
    }
    return c;
}

void smb_conn_free(struct worker *w, struct smb_conn *c)
{
    if (!c)
        return;
    while (c->pipes)
        smb_pipe_free(w, c, c->pipes);
    smb_files_free(w, c);
    while (c->pending) {
        struct smb_pending *q = c->pending;
        c->pending = q->next;
        smb_pend_free(w, q);
    }
    while (c->trees) {
        struct smb_tree *t = c->trees;
        c->trees = t->next;
        mem_free(&w->mem, MEM_APP, t, sizeof *t);
    }
    while (c->sessions) {
        struct smb_session *s = c->sessions;
        c->sessions = s->next;
        mem_free(&w->mem, MEM_APP, s, sizeof *s);
    }
    for (int i = 0; i < 2; i++)
        buf_free(&c->dir[i].acc);
    smb3_conn_free(w, c);
    mem_free(&w->mem, MEM_APP, c, sizeof *c);
}

/* Offset of the first plausible NetBIOS+SMB header in p, or n when none (a
 * possible header cut at the end is kept: returns its offset). */
static size_t smb_scan(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        enum transport_probe v = smb_probe(p + i, n - i);
        if (v == PROBE_SMB || v == PROBE_NEED_MORE)
            return i;
    }
    return n;
}

/* Processes complete messages at the start of the direction's buffer. */
static void smb_process_acc(struct worker *w, struct smb_conn *c, int ep)
{
    struct smb_dir *d = &c->dir[ep];
    size_t off = 0;
    for (;;) {
        size_t avail = d->acc.len - off;
        if (!d->synced) {
            size_t at = smb_scan(d->acc.data + off, avail);
            off += at;
            if (at == avail || smb_probe(d->acc.data + off, d->acc.len - off) != PROBE_SMB)
                break;
            d->synced = true;
            continue;
        }
        if (avail < NBSS_HDR)
            break;
        struct rd h = rd_init(d->acc.data + off, avail);
        uint8_t type = rd_u8(&h);
        uint32_t mlen = (uint32_t)rd_u8(&h) << 16;
        mlen |= rd_u16be(&h);
        if (type != 0x00) {
            /* session request/response, keepalive: nothing for us */
            if (type != 0x81 && type != 0x82 && type != 0x83 && type != 0x84 && type != 0x85) {
                smb_anomaly(w, c, ANOM_SMB_MALFORMED, "unknown NetBIOS session message");
                d->synced = false;
                off++;
                continue;
            }
            if (avail < NBSS_HDR + (size_t)mlen) {
                d->skip = NBSS_HDR + mlen - (uint32_t)avail;
                off = d->acc.len;
                break;
            }
            off += NBSS_HDR + mlen;
            continue;
        }
        if (mlen > SMB_BUF_MAX) {
            /* too big to hold (file data): read its headers, skip the rest */
            size_t peek = SMB_PEEK < mlen ? SMB_PEEK : mlen;
            if (avail < NBSS_HDR + peek)
                break;
            size_t have = avail - NBSS_HDR;
            size_t given = have < mlen ? have : mlen; /* at least its headers */
            c->partial = given < mlen;
            smb_message(w, c, ep, d->acc.data + off + NBSS_HDR, given);
            c->partial = false;
            if (have >= mlen) {
                off += NBSS_HDR + mlen;
                continue;
            }
            d->skip = mlen - (uint32_t)have;
            off = d->acc.len;
            break;
        }
        if (avail < NBSS_HDR + (size_t)mlen)
            break;
        smb_message(w, c, ep, d->acc.data + off + NBSS_HDR, mlen);
        off += NBSS_HDR + mlen;
    }
    buf_consume(&d->acc, off);
}

void smb_data(struct worker *w, struct smb_conn *c, int ep, const uint8_t *data, size_t len)
{
    ep &= 1;
    struct smb_dir *d = &c->dir[ep];
    while (len > 0) {
        if (d->skip) {
            size_t n = d->skip < len ? d->skip : len;
            if (d->sink) /* the rest of a big WRITE to a file */
                smb_file_stream(c, ep, data, n);
            d->skip -= (uint32_t)n;
            data += n, len -= n;
            continue;
        }
        if (d->synced && d->acc.len == 0 && len >= NBSS_HDR) {
            /* whole messages straight from the caller's bytes */
            struct rd h = rd_init(data, len);
            uint8_t type = rd_u8(&h);
            uint32_t mlen = (uint32_t)rd_u8(&h) << 16;
            mlen |= rd_u16be(&h);
            if (type == 0x00 && mlen <= SMB_BUF_MAX && NBSS_HDR + (size_t)mlen <= len) {
                smb_message(w, c, ep, data + NBSS_HDR, mlen);
                data += NBSS_HDR + mlen, len -= NBSS_HDR + mlen;
                continue;
            }
        }
        size_t room = d->acc.limit - d->acc.len;
        size_t take = len < room ? len : room;
        if (!buf_append(&d->acc, data, take)) {
            smb_anomaly(w, c, ANOM_SMB_MEMCAP, NULL);
            smb_gap(w, c, ep);
        }
        data += take, len -= take;
        smb_process_acc(w, c, ep);
    }
}

void smb_gap(struct worker *w, struct smb_conn *c, int ep)
{
    struct smb_dir *d = &c->dir[ep & 1];
    smb_file_gap(c, ep);
    buf_clear(&d->acc);
    d->skip = 0;
    d->synced = false;
    if ((ep & 1) == c->server_ep || c->server_ep < 0) /* answers may be among what was lost */
        for (struct smb_held *h = c->held; h; h = h->next)
            h->answer_lost = true;
    /* bytes were lost inside whatever pipe data was in flight */
    for (struct smb_pipe *p = c->pipes; p; p = p->next)
        dce_gap(w, p->dce, ep & 1);
}
