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
#include "rpcsentry/cursor.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/iface.h"
#include "rpcsentry/ntlmssp.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"

#define NBSS_HDR 4
#define SMB_BUF_MAX (1u << 20)  /* messages buffered whole up to this size */
#define SMB_PEEK 1024           /* of larger ones, only this much is read (headers) */
#define SMB_MAX_PIPES 1024
#define SMB_MAX_PENDING 1024
#define SMB_MAX_SESSIONS 64
#define SMB_MAX_TREES 128
#define SMB_MAX_CHAIN 64        /* compounded / AndX commands followed per message */
#define SMB_NAME_MAX 128

#define SMB2_NEGOTIATE 0x00
#define SMB2_SESSION_SETUP 0x01
#define SMB2_TREE_CONNECT 0x03
#define SMB2_CREATE 0x05
#define SMB2_CLOSE 0x06
#define SMB2_READ 0x08
#define SMB2_WRITE 0x09
#define SMB2_IOCTL 0x0b

#define SMB2_FLAGS_RESPONSE 0x01
#define SMB2_FLAGS_ASYNC 0x02
#define SMB2_FLAGS_RELATED 0x04

#define SMB1_CLOSE 0x04
#define SMB1_TRANSACTION 0x25
#define SMB1_READ_ANDX 0x2e
#define SMB1_WRITE_ANDX 0x2f
#define SMB1_NEGOTIATE 0x72
#define SMB1_SESSION_SETUP_ANDX 0x73
#define SMB1_TREE_CONNECT_ANDX 0x75
#define SMB1_NT_CREATE_ANDX 0xa2
#define SMB1_FLAGS_REPLY 0x80
#define SMB1_FLAGS2_UNICODE 0x8000

#define STATUS_SUCCESS 0x00000000u
#define STATUS_PENDING 0x00000103u
#define STATUS_BUFFER_OVERFLOW 0x80000005u
#define FSCTL_PIPE_TRANSCEIVE 0x0011c017u
#define TRANS_TRANSACT_NMPIPE 0x0026

struct smb_session {
    struct smb_session *next;
    uint64_t id;
    struct rpc_identity identity;
};

struct smb_tree {
    struct smb_tree *next;
    uint64_t session;
    uint32_t id;
    bool ipc;
    char share[SMB_NAME_MAX];
};

struct smb_pipe {
    struct smb_pipe *next;
    uint8_t fid[16];       /* SMB2 FileId; SMB1 uses the first two bytes */
    bool open;             /* fid known (the CREATE answered, or adopted from traffic) */
    uint64_t create_msg;   /* SMB2 MessageId / SMB1 MID of the CREATE, while not open */
    char name[SMB_NAME_MAX];
    char share[SMB_NAME_MAX];
    bool learned;          /* its first bind has been noted for the pipe name */
    uint8_t carries;       /* enum pipe_carries */
    char candidates[96];   /* the interfaces its name may carry, when several (info) */
    struct rpc_transport info;
    struct dce_assoc *dce;
};

/* Whether a pipe carries DCE/RPC: known RPC pipe names do; others (\PSEXESVC, ...)
 * are judged by their first bytes. */
enum pipe_carries { PIPE_UNDECIDED, PIPE_RPC, PIPE_OTHER };

enum pend_kind { PEND_TREE, PEND_CREATE, PEND_READ, PEND_IOCTL, PEND_TRANS };

struct smb_pending {
    struct smb_pending *next;
    uint64_t msg_id;
    uint8_t kind;
    bool by_create;      /* the pipe was opened in the same chain: found by its CREATE */
    uint64_t create_msg;
    uint8_t fid[16];
    uint64_t session;
    char path[SMB_NAME_MAX]; /* share of a TREE_CONNECT */
};

/* What the first bind on a pipe of some name told us, for later pipes of that name. */
struct learned_iface {
    char name[SMB_NAME_MAX];
    struct uuid uuid;
    uint16_t ver_major;
};

struct smb_dir {
    struct buf acc;
    uint32_t need;    /* bytes of the current message still to gather into acc */
    uint32_t skip;    /* bytes of the current message to discard */
    uint32_t msg_len; /* size of the current NBSS message body */
    bool synced;
};

/*
 * Sessions outlive connections: SMB 3 multichannel binds a new connection
 * to a session whose user and trees were set up on another. A bounded
 * per-worker registry keyed by (server address, session id) remembers them.
 */
#define SMB_REG_MAX 256
#define SMB_REG_TREES 16
struct smb_reg_tree {
    uint32_t id;
    bool ipc;
    char share[SMB_NAME_MAX];
};
/* A pipe of the session, so that another channel can use its FileId: name and first bind. */
#define SMB_REG_PIPES 8
struct smb_reg_pipe {
    uint8_t fid[16];
    char name[64];
    bool has_iface;
    struct uuid uuid;
    uint16_t ver_major;
};
struct smb_reg_entry {
    bool used, has_identity;
    uint8_t server[16];
    uint64_t session;
    struct rpc_identity identity;
    struct smb_reg_tree trees[SMB_REG_TREES];
    unsigned n_trees;
    struct smb_reg_pipe pipes[SMB_REG_PIPES];
    unsigned next_pipe;
};
struct smb_registry {
    struct smb_reg_entry e[SMB_REG_MAX];
    unsigned next;
};

struct smb_conn {
    const struct flow_ref *flow;
    int server_ep; /* endpoint that answers, -1 until a message says */
    uint64_t *tx_counter;
    char *community_id;
    struct smb_dir dir[2];
    const char *dialect;
    struct smb_session *sessions;
    struct smb_tree *trees;
    struct smb_pipe *pipes;
    struct smb_pending *pending;
    unsigned n_sessions, n_trees, n_pipes, n_pending;
    struct learned_iface learned[8];
    unsigned n_learned;
    uint32_t anomalies_seen;
    bool partial; /* the message being parsed was cut to its first SMB_PEEK bytes */
};

static void anomaly(struct worker *w, struct smb_conn *c, enum anomaly_type t, const char *why)
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
    }
    struct smb_registry *r = w->smb_registry;
    const uint8_t *server = c->flow->key.addr[c->server_ep];
    for (unsigned i = 0; i < SMB_REG_MAX; i++)
        if (r->e[i].used && r->e[i].session == session && memcmp(r->e[i].server, server, 16) == 0)
            return &r->e[i];
    if (!create)
        return NULL;
    struct smb_reg_entry *e = &r->e[r->next++ % SMB_REG_MAX];
    memset(e, 0, sizeof *e);
    e->used = true;
    e->session = session;
    memcpy(e->server, server, 16);
    return e;
}

void smb_registry_free(struct worker *w)
{
    if (w->smb_registry)
        mem_free(&w->mem, MEM_APP, w->smb_registry, sizeof *w->smb_registry);
    w->smb_registry = NULL;
}

static void tree_add(struct worker *w, struct smb_conn *c, uint32_t id, uint64_t session,
                     const char *share, bool ipc);

/* A tree of the session: on this connection, or set up on another channel of the session. */
static struct smb_tree *tree_find(struct worker *w, struct smb_conn *c, uint64_t session,
                                  uint32_t id)
{
    for (struct smb_tree *t = c->trees; t; t = t->next)
        if (t->id == id && t->session == session)
            return t;
    struct smb_reg_entry *e = reg_find(w, c, session, false);
    for (unsigned i = 0; e && i < e->n_trees; i++)
        if (e->trees[i].id == id) {
            struct smb_reg_tree copy = e->trees[i]; /* tree_add writes the registry again */
            tree_add(w, c, id, session, copy.share, copy.ipc);
            for (struct smb_tree *t = c->trees; t; t = t->next)
                if (t->id == id && t->session == session)
                    return t;
        }
    return NULL;
}

static void tree_add(struct worker *w, struct smb_conn *c, uint32_t id, uint64_t session,
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

static bool fid_eq(const uint8_t *a, const uint8_t *b, size_t n) { return memcmp(a, b, n) == 0; }

/* The pipe used moves to the front: the list runs from most to least recently used,
 * and a flood of opens evicts the pipe idle longest, not one bound and in use. */
static struct smb_pipe *pipe_by_fid(struct smb_conn *c, const uint8_t *fid, size_t n)
{
    for (struct smb_pipe **pp = &c->pipes; *pp; pp = &(*pp)->next) {
        struct smb_pipe *p = *pp;
        if (p->open && fid_eq(p->fid, fid, n)) {
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

static struct smb_pipe *pipe_by_create(struct smb_conn *c, uint64_t msg)
{
    for (struct smb_pipe *p = c->pipes; p; p = p->next)
        if (!p->open && p->create_msg == msg)
            return p;
    return NULL;
}

/* Which pipe a pending request is about: by FileId, or, when it was opened in
 * the same compounded chain (FileId not known when asked), by its CREATE. */
static void pend_set_pipe(struct smb_pending *q, const struct smb_pipe *p)
{
    memcpy(q->fid, p->fid, 16);
    q->by_create = !p->open;
    q->create_msg = p->create_msg;
}

static struct smb_pipe *pend_pipe(struct smb_conn *c, const struct smb_pending *q)
{
    if (q->by_create) {
        for (struct smb_pipe *p = c->pipes; p; p = p->next)
            if (p->create_msg == q->create_msg)
                return p;
        return NULL;
    }
    return pipe_by_fid(c, q->fid, 16);
}

static struct smb_pipe *pend_pipe(struct smb_conn *c, const struct smb_pending *q);

static void pipe_free(struct worker *w, struct smb_conn *c, struct smb_pipe *p)
{
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
static const struct rpc_identity *session_identity(struct worker *w, struct smb_conn *c,
                                                   uint64_t id)
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
static void session_learn(struct worker *w, struct smb_conn *c, uint64_t id,
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
static struct smb_reg_pipe *reg_pipe(struct worker *w, struct smb_conn *c, uint64_t session,
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
            dce_set_iface_hint(p->dce, &c->learned[i].uuid, c->learned[i].ver_major,
                               DCE_HINT_PIPE);
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
            snprintf(l + used, sizeof p->candidates - used, "%s%s", i ? " " : "",
                     cands[i]->name);
        }
        p->info.iface_candidates = l;
    }
}

static struct smb_pipe *pipe_new(struct worker *w, struct smb_conn *c, const char *name,
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
        anomaly(w, c, ANOM_SMB_TOO_MANY_PIPES, NULL);
        if (old)
            pipe_free(w, c, old);
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
    p->info.smb_identity = session_identity(w, c, session);
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
    struct smb_reg_pipe *rp = reg_pipe(w, c, p->info.smb_session_id, p->fid, false);
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

static void pipe_data(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                      const uint8_t *d, size_t n)
{
    if (!p || !n)
        return;
    if (p->carries == PIPE_UNDECIDED)
        p->carries = dce_hdr_check(d, n, NULL) >= 0 ? PIPE_RPC : PIPE_OTHER;
    if (p->carries != PIPE_RPC)
        return;
    dce_data(w, p->dce, ep, d, n);
    pipe_learn(w, c, p);
}

static struct smb_pending *pend_add(struct worker *w, struct smb_conn *c, uint64_t msg,
                                    enum pend_kind kind)
{
    if (c->n_pending >= SMB_MAX_PENDING) {
        /* requests never answered (one-sided capture): drop the oldest */
        struct smb_pending **pp = &c->pending;
        while (*pp && (*pp)->next)
            pp = &(*pp)->next;
        if (*pp) {
            mem_free(&w->mem, MEM_APP, *pp, sizeof **pp);
            *pp = NULL;
            c->n_pending--;
        }
    }
    struct smb_pending *q = mem_calloc(&w->mem, MEM_APP, sizeof *q);
    if (!q)
        return NULL;
    q->msg_id = msg;
    q->kind = (uint8_t)kind;
    q->next = c->pending;
    c->pending = q;
    c->n_pending++;
    return q;
}

/* Finds and unlinks the pending request answered by msg; the caller frees it. */
static struct smb_pending *pend_take(struct smb_conn *c, uint64_t msg)
{
    for (struct smb_pending **pp = &c->pending; *pp; pp = &(*pp)->next)
        if ((*pp)->msg_id == msg) {
            struct smb_pending *q = *pp;
            *pp = q->next;
            c->n_pending--;
            return q;
        }
    return NULL;
}

static void pend_free(struct worker *w, struct smb_pending *q)
{
    if (q)
        mem_free(&w->mem, MEM_APP, q, sizeof *q);
}

/* Is this tree a place where pipes live (IPC$), or unknown (picked up mid-stream)? */
static bool tree_may_hold_pipes(struct worker *w, struct smb_conn *c, uint64_t session,
                                uint32_t tree_id)
{
    struct smb_tree *t = tree_find(w, c, session, tree_id);
    return !t || t->ipc;
}

/*
 * Data that runs past the bytes we have: malformed, unless the message was
 * too big to hold and only its start was read (file data): then a pipe it
 * was meant for has lost bytes, and anything else does not matter.
 */
static void data_missing(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                         const char *what)
{
    if (!c->partial)
        anomaly(w, c, ANOM_SMB_MALFORMED, what);
    else if (p)
        dce_gap(w, p->dce, ep);
}

/* Data on a file we have not seen opened: a pipe if it carries DCE/RPC. */
static struct smb_pipe *adopt(struct worker *w, struct smb_conn *c, const uint8_t *fid,
                              size_t fidlen, uint64_t session, uint32_t tree,
                              const uint8_t *d, size_t n)
{
    if (!tree_may_hold_pipes(w, c, session, tree) || dce_hdr_check(d, n, NULL) != 1)
        return NULL;
    struct smb_tree *t = tree_find(w, c, session, tree);
    /* opened on another channel of the session (SMB 3 multichannel): its name and bind */
    uint8_t full[16] = {0};
    memcpy(full, fid, fidlen < 16 ? fidlen : 16);
    struct smb_reg_pipe *rp = fidlen == 16 ? reg_pipe(w, c, session, full, false) : NULL;
    struct smb_reg_pipe known;
    if (rp)
        known = *rp; /* pipe_new may write the registry */
    struct smb_pipe *p = pipe_new(w, c, rp ? known.name : "", t ? t->share : NULL, session, tree);
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

/* ---- SMB2 ---- */

struct smb2_hdr {
    uint16_t cmd;
    uint32_t status, flags, next;
    uint64_t msg_id, session;
    uint32_t tree;
    bool response;
};

static const char *smb2_dialect_name(uint16_t d)
{
    switch (d) {
    case 0x0202: return "2.02";
    case 0x0210: return "2.10";
    case 0x0222: return "2.22";
    case 0x0224: return "2.24";
    case 0x0300: return "3.00";
    case 0x0302: return "3.02";
    case 0x0310: return "3.10";
    case 0x0311: return "3.11";
    case 0x02ff: return "2.??";
    default: return "unknown";
    }
}

/* The chain state of a compounded request: related commands inherit these. */
struct smb2_chain {
    uint64_t session;
    uint32_t tree;
    uint8_t fid[16];
    struct smb_pipe *created; /* pipe opened earlier in this chain, fid not yet known */
};

static const uint8_t fid_any[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Resolves a request's FileId: the all-ones id in a related command means the
 * file opened earlier in the same chain. */
static struct smb_pipe *smb2_pipe_for(struct smb_conn *c, const uint8_t *fid,
                                      const struct smb2_chain *ch, bool related)
{
    if (related && fid_eq(fid, fid_any, 16))
        return ch->created ? ch->created : pipe_by_fid(c, ch->fid, 16);
    return pipe_by_fid(c, fid, 16);
}

/* A UTF-16 name at (offset from the header, length) into out. */
static void smb2_name(struct rd m, uint16_t off, uint16_t len, char *out, size_t n)
{
    out[0] = '\0';
    rd_seek(&m, off);
    struct rd s = rd_sub(&m, len);
    if (rd_ok(&s))
        utf16le_to_utf8(&s, len / 2, out, n, NULL);
}

static void smb2_session_setup(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h,
                               struct rd m)
{
    if (h->response)
        return;
    rd_skip(&m, 12); /* size, flags, security mode, capabilities, channel */
    uint16_t off = rd_u16le(&m), len = rd_u16le(&m);
    if (!rd_ok(&m))
        return;
    rd_seek(&m, off);
    const uint8_t *blob = rd_take(&m, len);
    if (!blob)
        return;
    struct rpc_identity id;
    if (ntlmssp_parse(blob, len, &id) == NTLMSSP_AUTHENTICATE)
        session_learn(w, c, h->session, &id);
}

static void smb2_tree_connect(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h,
                              struct rd m)
{
    if (!h->response) {
        rd_skip(&m, 4);
        uint16_t off = rd_u16le(&m), len = rd_u16le(&m);
        if (!rd_ok(&m))
            return;
        struct smb_pending *q = pend_add(w, c, h->msg_id, PEND_TREE);
        if (q) {
            smb2_name(m, off, len, q->path, sizeof q->path);
            q->session = h->session;
        }
        return;
    }
    struct smb_pending *q = pend_take(c, h->msg_id);
    if (q && q->kind == PEND_TREE && h->status == STATUS_SUCCESS) {
        rd_skip(&m, 2);
        uint8_t type = rd_u8(&m);
        size_t plen = strlen(q->path);
        bool ipc = type == 0x02 || (plen >= 4 && strcasecmp(q->path + plen - 4, "IPC$") == 0);
        tree_add(w, c, h->tree, h->session, q->path, ipc);
    }
    pend_free(w, q);
}

static void smb2_create(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h,
                        struct rd m, struct smb2_chain *ch)
{
    if (!h->response) {
        rd_skip(&m, 44);
        uint16_t off = rd_u16le(&m), len = rd_u16le(&m);
        if (!rd_ok(&m))
            return;
        char name[SMB_NAME_MAX];
        smb2_name(m, off, len, name, sizeof name);
        struct smb_tree *t = tree_find(w, c, h->session, h->tree);
        if (!tree_may_hold_pipes(w, c, h->session, h->tree))
            return;
        if (!t && name[0] == '\0')
            return;
        struct smb_pipe *p = pipe_new(w, c, name, t ? t->share : NULL, h->session, h->tree);
        if (!p)
            return;
        p->create_msg = h->msg_id;
        ch->created = p;
        return;
    }
    struct smb_pipe *p = pipe_by_create(c, h->msg_id);
    if (!p)
        return;
    if (h->status != STATUS_SUCCESS) {
        pipe_free(w, c, p);
        return;
    }
    rd_seek(&m, 64 + 64); /* FileId sits 64 bytes into the CREATE response body */
    uint8_t fid[16];
    if (!rd_bytes(&m, fid, 16))
        return;
    memcpy(p->fid, fid, 16);
    p->open = true;
    memcpy(ch->fid, fid, 16);
    struct smb_reg_pipe *rp = reg_pipe(w, c, p->info.smb_session_id, fid, true);
    if (rp)
        snprintf(rp->name, sizeof rp->name, "%.63s", p->name);
}

static void smb2_close(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h,
                       struct rd m, const struct smb2_chain *ch)
{
    if (h->response)
        return;
    rd_skip(&m, 8);
    uint8_t fid[16];
    if (!rd_bytes(&m, fid, 16))
        return;
    struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
    if (p)
        pipe_free(w, c, p);
}

static void smb2_write(struct worker *w, struct smb_conn *c, int ep, const struct smb2_hdr *h,
                       struct rd m, const struct smb2_chain *ch)
{
    if (h->response)
        return;
    rd_skip(&m, 2);
    uint16_t off = rd_u16le(&m);
    uint32_t len = rd_u32le(&m);
    rd_skip(&m, 8);
    uint8_t fid[16];
    rd_bytes(&m, fid, 16);
    if (!rd_ok(&m))
        return;
    struct rd d = m;
    rd_seek(&d, off);
    const uint8_t *data = rd_take(&d, len);
    struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
    if (!data) {
        data_missing(w, c, p, ep, "WRITE data past the end of the message");
        return;
    }
    if (!p)
        p = adopt(w, c, fid, 16, h->session, h->tree, data, len);
    pipe_data(w, c, p, ep, data, len);
}

static void smb2_read(struct worker *w, struct smb_conn *c, int ep, const struct smb2_hdr *h,
                      struct rd m, const struct smb2_chain *ch)
{
    if (!h->response) {
        rd_skip(&m, 16);
        uint8_t fid[16];
        if (!rd_bytes(&m, fid, 16))
            return;
        struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
        if (!p && !tree_may_hold_pipes(w, c, h->session, h->tree))
            return; /* a read on a disk share: no need to follow it */
        struct smb_pending *q = pend_add(w, c, h->msg_id, PEND_READ);
        if (q) {
            memcpy(q->fid, fid, 16);
            if (p)
                pend_set_pipe(q, p);
            q->session = h->session;
        }
        return;
    }
    if (h->status == STATUS_PENDING)
        return; /* interim answer: the data comes later under the same MessageId */
    struct smb_pending *q = pend_take(c, h->msg_id);
    if (!q)
        return;
    if (h->status == STATUS_SUCCESS || h->status == STATUS_BUFFER_OVERFLOW) {
        rd_skip(&m, 2);
        uint8_t off = rd_u8(&m);
        rd_skip(&m, 1);
        uint32_t len = rd_u32le(&m);
        struct rd d = m;
        rd_seek(&d, off);
        const uint8_t *data = rd_ok(&m) ? rd_take(&d, len) : NULL;
        struct smb_pipe *p = pend_pipe(c, q);
        if (data) {
            if (!p)
                p = adopt(w, c, q->fid, 16, q->session, h->tree, data, len);
            pipe_data(w, c, p, ep, data, len);
        } else if (len) {
            data_missing(w, c, p, ep, "READ data past the end of the message");
        }
    }
    pend_free(w, q);
}

static void smb2_ioctl(struct worker *w, struct smb_conn *c, int ep, const struct smb2_hdr *h,
                       struct rd m, const struct smb2_chain *ch)
{
    rd_skip(&m, 4);
    uint32_t code = rd_u32le(&m);
    uint8_t fid[16];
    rd_bytes(&m, fid, 16);
    if (!rd_ok(&m) || code != FSCTL_PIPE_TRANSCEIVE)
        return;
    if (!h->response) {
        uint32_t in_off = rd_u32le(&m), in_len = rd_u32le(&m);
        struct rd d = m;
        rd_seek(&d, in_off);
        const uint8_t *data = rd_ok(&m) ? rd_take(&d, in_len) : NULL;
        struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
        if (!data) {
            data_missing(w, c, p, ep, "IOCTL input past the end of the message");
            return;
        }
        if (!p)
            p = adopt(w, c, fid, 16, h->session, h->tree, data, in_len);
        if (!p)
            return;
        pipe_data(w, c, p, ep, data, in_len);
        struct smb_pending *q = pend_add(w, c, h->msg_id, PEND_IOCTL);
        if (q)
            pend_set_pipe(q, p);
        return;
    }
    if (h->status == STATUS_PENDING)
        return;
    struct smb_pending *q = pend_take(c, h->msg_id);
    if (h->status == STATUS_SUCCESS || h->status == STATUS_BUFFER_OVERFLOW) {
        rd_skip(&m, 8); /* input offset and count */
        uint32_t out_off = rd_u32le(&m), out_len = rd_u32le(&m);
        struct rd d = m;
        rd_seek(&d, out_off);
        const uint8_t *data = rd_ok(&m) ? rd_take(&d, out_len) : NULL;
        struct smb_pipe *p = q ? pend_pipe(c, q) : pipe_by_fid(c, fid, 16);
        if (data)
            pipe_data(w, c, p, ep, data, out_len);
        else if (out_len)
            data_missing(w, c, p, ep, "IOCTL output past the end of the message");
    }
    pend_free(w, q);
}

static void smb2_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg,
                         size_t len)
{
    struct smb2_chain ch;
    memset(&ch, 0, sizeof ch);
    size_t off = 0;
    for (int n = 0; n < SMB_MAX_CHAIN; n++) {
        struct rd all = rd_init(msg, len);
        rd_skip(&all, off);
        struct rd m = rd_sub(&all, len - off);
        struct smb2_hdr h;
        rd_skip(&m, 4); /* \xfeSMB */
        uint16_t hsize = rd_u16le(&m);
        rd_skip(&m, 2);
        h.status = rd_u32le(&m);
        h.cmd = rd_u16le(&m);
        rd_skip(&m, 2);
        h.flags = rd_u32le(&m);
        h.next = rd_u32le(&m);
        h.msg_id = rd_u64le(&m);
        if (h.flags & SMB2_FLAGS_ASYNC) {
            rd_skip(&m, 8);
            h.tree = 0;
        } else {
            rd_skip(&m, 4);
            h.tree = rd_u32le(&m);
        }
        h.session = rd_u64le(&m);
        rd_skip(&m, 16);
        if (!rd_ok(&m) || hsize != 64) {
            anomaly(w, c, ANOM_SMB_MALFORMED, "short or malformed SMB2 header");
            return;
        }
        h.response = (h.flags & SMB2_FLAGS_RESPONSE) != 0;
        if (c->server_ep < 0)
            c->server_ep = h.response ? ep : 1 - ep;
        if (h.flags & SMB2_FLAGS_RELATED) {
            if (h.session == UINT64_MAX)
                h.session = ch.session;
            if (h.tree == UINT32_MAX)
                h.tree = ch.tree;
        }
        ch.session = h.session;
        ch.tree = h.tree;
        /* the command's own bytes: to the next header, or the end */
        struct rd body = m;
        if (h.next) {
            if (h.next < 64 || h.next > len - off) {
                anomaly(w, c, ANOM_SMB_MALFORMED, "NextCommand outside the message");
                return;
            }
            body.len = h.next;
        }
        switch (h.cmd) {
        case SMB2_NEGOTIATE:
            if (h.response && h.status == STATUS_SUCCESS) {
                struct rd b = body;
                rd_skip(&b, 4);
                uint16_t d = rd_u16le(&b);
                if (rd_ok(&b))
                    c->dialect = smb2_dialect_name(d);
            }
            break;
        case SMB2_SESSION_SETUP: smb2_session_setup(w, c, &h, body); break;
        case SMB2_TREE_CONNECT: smb2_tree_connect(w, c, &h, body); break;
        case SMB2_CREATE: smb2_create(w, c, &h, body, &ch); break;
        case SMB2_CLOSE: smb2_close(w, c, &h, body, &ch); break;
        case SMB2_READ: smb2_read(w, c, ep, &h, body, &ch); break;
        case SMB2_WRITE: smb2_write(w, c, ep, &h, body, &ch); break;
        case SMB2_IOCTL: smb2_ioctl(w, c, ep, &h, body, &ch); break;
        default: break;
        }
        if (!h.next)
            return;
        off += h.next;
    }
    anomaly(w, c, ANOM_SMB_MALFORMED, "too many compounded commands");
}

/* ---- SMB1 ---- */

struct smb1_hdr {
    uint8_t cmd, flags;
    uint16_t flags2, tid, pid, uid, mid;
    uint32_t status;
    bool reply, unicode;
};

static uint64_t smb1_key(const struct smb1_hdr *h) { return (uint64_t)h->pid << 16 | h->mid; }

/*
 * A string in the byte area at the cursor: Unicode or OEM. Unicode strings
 * are aligned to 2 from the start of the SMB header; base is the header
 * offset of the cursor's first byte.
 */
static void smb1_string(struct rd *m, size_t base, bool unicode, char *out, size_t n)
{
    out[0] = '\0';
    if (unicode) {
        if ((base + m->off) & 1)
            rd_skip(m, 1);
        size_t units = 0;
        struct rd probe = *m;
        while (rd_has(&probe, 2) && rd_u16le(&probe) != 0)
            units++;
        utf16le_to_utf8(m, units + 1, out, n, NULL);
    } else {
        size_t bytes = 0;
        struct rd probe = *m;
        while (rd_has(&probe, 1) && rd_u8(&probe) != 0)
            bytes++;
        latin1_to_utf8(m, bytes + 1, out, n, NULL);
    }
}

static void smb1_session_setup(struct worker *w, struct smb_conn *c, const struct smb1_hdr *h,
                               struct rd words, uint8_t wc, struct rd bytes, size_t base)
{
    if (h->reply)
        return;
    struct rpc_identity id;
    memset(&id, 0, sizeof id);
    if (wc == 12) { /* extended security: an NTLMSSP/SPNEGO blob */
        rd_skip(&words, 14);
        uint16_t blen = rd_u16le(&words);
        const uint8_t *blob = rd_take(&bytes, blen);
        if (!rd_ok(&words) || !blob || ntlmssp_parse(blob, blen, &id) != NTLMSSP_AUTHENTICATE)
            return;
    } else if (wc == 13) { /* NTLM in the clear fields: passwords, then account and domain */
        rd_skip(&words, 14);
        uint16_t ci = rd_u16le(&words), cs = rd_u16le(&words);
        rd_skip(&bytes, (size_t)ci + cs);
        if (!rd_ok(&words) || !rd_ok(&bytes))
            return;
        smb1_string(&bytes, base, h->unicode, id.user, sizeof id.user);
        smb1_string(&bytes, base, h->unicode, id.domain, sizeof id.domain);
        id.valid = true;
    } else {
        return;
    }
    session_learn(w, c, h->uid, &id);
}

static void smb1_tree_connect(struct worker *w, struct smb_conn *c, const struct smb1_hdr *h,
                              struct rd words, struct rd bytes, size_t base)
{
    if (!h->reply) {
        rd_skip(&words, 6);
        uint16_t pwlen = rd_u16le(&words);
        rd_skip(&bytes, pwlen);
        if (!rd_ok(&words) || !rd_ok(&bytes))
            return;
        struct smb_pending *q = pend_add(w, c, smb1_key(h), PEND_TREE);
        if (q) {
            smb1_string(&bytes, base, h->unicode, q->path, sizeof q->path);
            q->session = h->uid;
        }
        return;
    }
    struct smb_pending *q = pend_take(c, smb1_key(h));
    if (q && q->kind == PEND_TREE && h->status == STATUS_SUCCESS) {
        size_t plen = strlen(q->path);
        bool ipc = plen >= 4 && strcasecmp(q->path + plen - 4, "IPC$") == 0;
        /* the service string of the reply says "IPC" for pipe trees */
        char svc[16];
        struct rd b = bytes;
        smb1_string(&b, base, false, svc, sizeof svc);
        if (strcmp(svc, "IPC") == 0)
            ipc = true;
        tree_add(w, c, h->tid, h->uid, q->path, ipc);
    }
    pend_free(w, q);
}

static void smb1_fid(uint8_t out[16], uint16_t fid)
{
    memset(out, 0, 16);
    out[0] = (uint8_t)fid;
    out[1] = (uint8_t)(fid >> 8);
}

static void smb1_nt_create(struct worker *w, struct smb_conn *c, const struct smb1_hdr *h,
                           struct rd words, struct rd bytes, size_t base)
{
    if (!h->reply) {
        rd_skip(&words, 5);
        uint16_t nlen = rd_u16le(&words);
        if (!rd_ok(&words) || !tree_may_hold_pipes(w, c, h->uid, h->tid))
            return;
        char name[SMB_NAME_MAX];
        struct rd b = rd_sub(&bytes, rd_left(&bytes));
        if (h->unicode) {
            if (base & 1) /* pad to an even offset from the header */
                rd_skip(&b, 1);
            utf16le_to_utf8(&b, nlen / 2, name, sizeof name, NULL);
        } else {
            latin1_to_utf8(&b, nlen, name, sizeof name, NULL);
        }
        struct smb_tree *t = tree_find(w, c, h->uid, h->tid);
        if (!t && name[0] == '\0')
            return;
        struct smb_pipe *p = pipe_new(w, c, name, t ? t->share : NULL, h->uid, h->tid);
        if (p)
            p->create_msg = smb1_key(h);
        return;
    }
    struct smb_pipe *p = pipe_by_create(c, smb1_key(h));
    if (!p)
        return;
    rd_skip(&words, 5);
    uint16_t fid = rd_u16le(&words);
    if (h->status != STATUS_SUCCESS || !rd_ok(&words)) {
        pipe_free(w, c, p);
        return;
    }
    smb1_fid(p->fid, fid);
    p->open = true;
}

static void smb1_write(struct worker *w, struct smb_conn *c, int ep, const struct smb1_hdr *h,
                       struct rd words, struct rd msg)
{
    if (h->reply)
        return;
    rd_skip(&words, 4);
    uint16_t fid = rd_u16le(&words);
    rd_skip(&words, 12);
    uint16_t len_hi = rd_u16le(&words), len = rd_u16le(&words), off = rd_u16le(&words);
    if (!rd_ok(&words))
        return;
    uint32_t total = (uint32_t)len | (uint32_t)len_hi << 16;
    rd_seek(&msg, off);
    const uint8_t *data = rd_take(&msg, total);
    uint8_t f[16];
    smb1_fid(f, fid);
    struct smb_pipe *p = pipe_by_fid(c, f, 16);
    if (!data) {
        data_missing(w, c, p, ep, "WRITE_ANDX data past the end of the message");
        return;
    }
    if (!p)
        p = adopt(w, c, f, 16, h->uid, h->tid, data, total);
    pipe_data(w, c, p, ep, data, total);
}

static void smb1_read(struct worker *w, struct smb_conn *c, int ep, const struct smb1_hdr *h,
                      struct rd words, struct rd msg)
{
    if (!h->reply) {
        rd_skip(&words, 4);
        uint16_t fid = rd_u16le(&words);
        if (!rd_ok(&words) || !tree_may_hold_pipes(w, c, h->uid, h->tid))
            return;
        struct smb_pending *q = pend_add(w, c, smb1_key(h), PEND_READ);
        if (q) {
            smb1_fid(q->fid, fid);
            q->session = h->uid;
        }
        return;
    }
    struct smb_pending *q = pend_take(c, smb1_key(h));
    if (!q)
        return;
    if (h->status == STATUS_SUCCESS || h->status == STATUS_BUFFER_OVERFLOW) {
        rd_skip(&words, 10);
        uint16_t len = rd_u16le(&words), off = rd_u16le(&words);
        uint16_t len_hi = rd_u16le(&words); /* MS-SMB 2.2.4.2.2: right after DataOffset */
        uint32_t total = (uint32_t)len | (rd_ok(&words) ? (uint32_t)len_hi << 16 : 0);
        struct rd d = msg;
        rd_seek(&d, off);
        const uint8_t *data = rd_take(&d, total);
        if (data) {
            struct smb_pipe *p = pipe_by_fid(c, q->fid, 16);
            if (!p)
                p = adopt(w, c, q->fid, 16, q->session, h->tid, data, total);
            pipe_data(w, c, p, ep, data, total);
        } else if (total) {
            data_missing(w, c, pipe_by_fid(c, q->fid, 16), ep,
                         "READ_ANDX data past the end of the message");
        }
    }
    pend_free(w, q);
}

static void smb1_transaction(struct worker *w, struct smb_conn *c, int ep,
                             const struct smb1_hdr *h, struct rd words, uint8_t wc, struct rd msg)
{
    if (!h->reply) {
        rd_skip(&words, 22);
        uint16_t dcount = rd_u16le(&words), doff = rd_u16le(&words);
        uint8_t setup_count = rd_u8(&words);
        rd_skip(&words, 1);
        uint16_t sub = setup_count >= 2 ? rd_u16le(&words) : 0;
        uint16_t fid = setup_count >= 2 ? rd_u16le(&words) : 0;
        if (!rd_ok(&words) || wc < 16 || sub != TRANS_TRANSACT_NMPIPE)
            return;
        rd_seek(&msg, doff);
        const uint8_t *data = rd_take(&msg, dcount);
        if (!data) {
            anomaly(w, c, ANOM_SMB_MALFORMED, "TRANSACTION data past the end of the message");
            return;
        }
        uint8_t f[16];
        smb1_fid(f, fid);
        struct smb_pipe *p = pipe_by_fid(c, f, 16);
        if (!p)
            p = adopt(w, c, f, 16, h->uid, h->tid, data, dcount);
        if (!p)
            return;
        pipe_data(w, c, p, ep, data, dcount);
        struct smb_pending *q = pend_add(w, c, smb1_key(h), PEND_TRANS);
        if (q)
            memcpy(q->fid, f, 16);
        return;
    }
    struct smb_pending *q = pend_take(c, smb1_key(h));
    if (!q)
        return;
    if (q->kind == PEND_TRANS &&
        (h->status == STATUS_SUCCESS || h->status == STATUS_BUFFER_OVERFLOW)) {
        rd_skip(&words, 12);
        uint16_t dcount = rd_u16le(&words), doff = rd_u16le(&words);
        rd_seek(&msg, doff);
        const uint8_t *data = rd_ok(&words) ? rd_take(&msg, dcount) : NULL;
        if (data)
            pipe_data(w, c, pipe_by_fid(c, q->fid, 16), ep, data, dcount);
    }
    pend_free(w, q);
}

static bool smb1_is_andx(uint8_t cmd)
{
    switch (cmd) {
    case SMB1_READ_ANDX: case SMB1_WRITE_ANDX: case SMB1_SESSION_SETUP_ANDX:
    case SMB1_TREE_CONNECT_ANDX: case SMB1_NT_CREATE_ANDX: case 0x24 /* LOCKING_ANDX */:
    case 0x2d /* OPEN_ANDX */: case 0x74 /* LOGOFF_ANDX */:
        return true;
    default:
        return false;
    }
}

static void smb1_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg,
                         size_t len)
{
    struct rd m = rd_init(msg, len);
    struct smb1_hdr h;
    rd_skip(&m, 4);
    h.cmd = rd_u8(&m);
    h.status = rd_u32le(&m);
    h.flags = rd_u8(&m);
    h.flags2 = rd_u16le(&m);
    rd_skip(&m, 12); /* PIDHigh, security features, reserved */
    h.tid = rd_u16le(&m);
    h.pid = rd_u16le(&m);
    h.uid = rd_u16le(&m);
    h.mid = rd_u16le(&m);
    if (!rd_ok(&m)) {
        anomaly(w, c, ANOM_SMB_MALFORMED, "short SMB1 header");
        return;
    }
    h.reply = (h.flags & SMB1_FLAGS_REPLY) != 0;
    h.unicode = (h.flags2 & SMB1_FLAGS2_UNICODE) != 0;
    if (c->server_ep < 0)
        c->server_ep = h.reply ? ep : 1 - ep;
    if (!c->dialect)
        c->dialect = "NT LM 0.12";
    uint8_t cmd = h.cmd;
    size_t off = 32, prev = 0;
    for (int n = 0; n < SMB_MAX_CHAIN; n++) {
        struct rd p = rd_init(msg, len);
        rd_seek(&p, off);
        uint8_t wc = rd_u8(&p);
        struct rd words = rd_sub(&p, (size_t)wc * 2);
        uint16_t bc = rd_u16le(&p);
        struct rd bytes = rd_sub(&p, bc);
        if (!rd_ok(&p)) {
            /* error replies carry no parameters; anything else this short is broken */
            if (!(h.reply && h.status != STATUS_SUCCESS))
                anomaly(w, c, ANOM_SMB_MALFORMED, "SMB1 parameters past the end");
            if (h.reply)
                pend_free(w, pend_take(c, smb1_key(&h)));
            return;
        }
        struct rd whole = rd_init(msg, len);
        size_t base = off + 1 + (size_t)wc * 2 + 2; /* header offset of the byte area */
        switch (cmd) {
        case SMB1_SESSION_SETUP_ANDX: smb1_session_setup(w, c, &h, words, wc, bytes, base); break;
        case SMB1_TREE_CONNECT_ANDX: smb1_tree_connect(w, c, &h, words, bytes, base); break;
        case SMB1_NT_CREATE_ANDX: smb1_nt_create(w, c, &h, words, bytes, base); break;
        case SMB1_WRITE_ANDX: smb1_write(w, c, ep, &h, words, whole); break;
        case SMB1_READ_ANDX: smb1_read(w, c, ep, &h, words, whole); break;
        case SMB1_TRANSACTION: smb1_transaction(w, c, ep, &h, words, wc, whole); break;
        case SMB1_CLOSE:
            if (!h.reply) {
                uint8_t f[16];
                smb1_fid(f, rd_u16le(&words));
                struct smb_pipe *pp = pipe_by_fid(c, f, 16);
                if (pp)
                    pipe_free(w, c, pp);
            }
            break;
        default: break;
        }
        if (!smb1_is_andx(cmd) || wc < 2)
            return;
        struct rd ax = words;
        uint8_t next = rd_u8(&ax);
        rd_skip(&ax, 1);
        uint16_t next_off = rd_u16le(&ax);
        if (next == 0xff)
            return;
        /* the chain must move forward inside the message */
        if (next_off <= off || next_off <= prev || next_off >= len) {
            anomaly(w, c, ANOM_SMB_MALFORMED, "AndX offset does not move forward");
            return;
        }
        prev = off;
        off = next_off;
        cmd = next;
    }
    anomaly(w, c, ANOM_SMB_MALFORMED, "AndX chain too long");
}

/* ---- framing ---- */

static void smb_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg,
                        size_t len)
{
    struct rd m = rd_init(msg, len);
    uint8_t m0 = rd_u8(&m), m1 = rd_u8(&m), m2 = rd_u8(&m), m3 = rd_u8(&m);
    if (!rd_ok(&m) || m1 != 'S' || m2 != 'M' || m3 != 'B') {
        anomaly(w, c, ANOM_SMB_MALFORMED, "NetBIOS message without an SMB signature");
        return;
    }
    switch (m0) {
    case 0xfe: smb2_message(w, c, ep, msg, len); break;
    case 0xff: smb1_message(w, c, ep, msg, len); break;
    case 0xfd: anomaly(w, c, ANOM_SMB_ENCRYPTED, NULL); break;
    case 0xfc: break; /* compressed: not decoded */
    default: anomaly(w, c, ANOM_SMB_MALFORMED, "unknown SMB protocol id"); break;
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
        pipe_free(w, c, c->pipes);
    while (c->pending) {
        struct smb_pending *q = c->pending;
        c->pending = q->next;
        pend_free(w, q);
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
                anomaly(w, c, ANOM_SMB_MALFORMED, "unknown NetBIOS session message");
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
            c->partial = peek < mlen;
            smb_message(w, c, ep, d->acc.data + off + NBSS_HDR, peek);
            c->partial = false;
            size_t have = avail - NBSS_HDR;
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
            anomaly(w, c, ANOM_SMB_MEMCAP, NULL);
            smb_gap(w, c, ep);
        }
        data += take, len -= take;
        smb_process_acc(w, c, ep);
    }
}

void smb_gap(struct worker *w, struct smb_conn *c, int ep)
{
    struct smb_dir *d = &c->dir[ep & 1];
    buf_clear(&d->acc);
    d->skip = 0;
    d->synced = false;
    /* bytes were lost inside whatever pipe data was in flight */
    for (struct smb_pipe *p = c->pipes; p; p = p->next)
        dce_gap(w, p->dce, ep & 1);
}
