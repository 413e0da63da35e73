/*
 * The connection-oriented DCE/RPC engine: PDU framing per direction,
 * presentation contexts, fragment reassembly by call_id, request/response
 * matching, auth trailers. See include/rpcsentry/dcerpc.h. About 900
 * lines, kept whole: one state machine per association whose parts (the
 * per-direction framing, the call list, the contexts) change together; the
 * header checks, NTLMSSP and the interfaces' decoders are elsewhere.
 */
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/iface.h"
#include "rpcsentry/kerberos.h"
#include "rpcsentry/ntlmssp.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"

#include "dce_krb.h"
#include "dce_ntlm.h"

#define DCE_ACC_MAX (65535 + DCE_HDR_LEN) /* one whole PDU plus the next header */

struct dce_dir {
    struct buf acc; /* bytes of an incomplete PDU (or being scanned for one) */
    bool synced;    /* at a PDU boundary we trust */
    bool lost;      /* bytes were lost since the last PDU */
};

struct dce_call {
    struct dce_call *prev, *next; /* outstanding calls, oldest first */
    struct rpc_call rec;
    struct buf req_stub, res_stub;
    bool req_done;
    bool decrypt_failed;                 /* a sealed fragment of it could not be unsealed */
    struct rpc_ctx_item items_inline[4]; /* bind items, when few */
    size_t items_alloc;                  /* bytes of rec.items when heap-allocated */
};

struct dce_assoc {
    /* what every PDU reads first, in the lines the transport's prefetch takes ahead of the
       packet (transport_prefetch); the identity's 385 bytes, read at a bind's answer and a
       record, last */
    const struct rpc_transport *t;
    struct dce_dir dir[2];
    struct rpc_ctx_item *ctxs;
    uint16_t n_ctxs, cap_ctxs;
    struct dce_call *bind;        /* bind/alter_context awaiting its answer */
    struct dce_call *head, *tail; /* outstanding requests */
    uint32_t n_calls;
    uint8_t auth_type, auth_level; /* negotiated at bind/alter_context */
    bool have_hint;
    bool hint_epm; /* the hint came from the endpoint mapper, not a pipe name */
    bool krb_mech; /* the association's last security context was Kerberos (else NTLMSSP) */
    anomaly_mask anomalies_seen;
    void *iface_state; /* what iface's decoders keep (handles) */
    /* unsealing state, only with a key store (--ntlm-secrets, --keytab): one per mechanism */
    struct dce_ntlm *ntlm;
    struct dce_krb *krb;
    struct rpc_ctx_item hint;
    char sec_addr[48];            /* the server's secondary address from its bind_ack */
    struct rpc_identity identity; /* from NTLMSSP AUTHENTICATE in auth3/alter/bind */
};

static const struct uuid ndr_syntax =
    UUID_LIT(0x8a885d04, 0x1ceb, 0x11c9, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60);
static const struct uuid ndr64_syntax =
    UUID_LIT(0x71710533, 0xbeba, 0x4937, 0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36);
/* bind time feature negotiation: 6cb71c2c-9812-4540-<bitmask> */
static const uint8_t btfn_prefix[8] = {0x6c, 0xb7, 0x1c, 0x2c, 0x98, 0x12, 0x45, 0x40};

static bool co_ptype(uint8_t t)
{
    switch (t) {
    case DCE_REQUEST:
    case DCE_RESPONSE:
    case DCE_FAULT:
    case DCE_BIND:
    case DCE_BIND_ACK:
    case DCE_BIND_NAK:
    case DCE_ALTER_CONTEXT:
    case DCE_ALTER_CONTEXT_RESP:
    case DCE_AUTH3:
    case DCE_SHUTDOWN:
    case DCE_CO_CANCEL:
    case DCE_ORPHANED:
    case DCE_RTS: return true;
    default: return false;
    }
}

int dce_hdr_check(const uint8_t *p, size_t n, struct dce_hdr *h)
{
    struct rd c = rd_init(p, n);
    if (!rd_has(&c, 1))
        return 0;
    if (rd_peek(&c, 0) != 5)
        return -1;
    if (!rd_has(&c, 2))
        return 0;
    if (rd_peek(&c, 1) > 1)
        return -1;
    if (!rd_has(&c, 3))
        return 0;
    if (!co_ptype(rd_peek(&c, 2)))
        return -1;
    if (!rd_has(&c, 6))
        return 0;
    /* drep: integer and character representation nibbles, float format 0..3 */
    if ((rd_peek(&c, 4) & 0xee) != 0 || rd_peek(&c, 5) > 3)
        return -1;
    if (!rd_has(&c, DCE_HDR_LEN))
        return 0;
    struct dce_hdr hh;
    hh.vers = rd_u8(&c);
    hh.vers_minor = rd_u8(&c);
    hh.ptype = rd_u8(&c);
    hh.flags = rd_u8(&c);
    rd_bytes(&c, hh.drep, 4);
    hh.le = (hh.drep[0] & 0x10) != 0;
    hh.frag_len = rd_u16(&c, hh.le);
    hh.auth_len = rd_u16(&c, hh.le);
    hh.call_id = rd_u32(&c, hh.le);
    if (hh.frag_len < DCE_HDR_LEN)
        return -1;
    if (hh.auth_len && (size_t)hh.auth_len + 8 + DCE_HDR_LEN > hh.frag_len)
        return -1;
    if (h)
        *h = hh;
    return 1;
}

/* ---- association lifetime ---- */

struct dce_assoc *dce_assoc_new(struct worker *w, const struct rpc_transport *t)
{
    struct dce_assoc *a = mem_calloc(&w->mem, MEM_APP, sizeof *a);
    if (!a)
        return NULL;
    a->t = t;
    for (int i = 0; i < 2; i++) {
        buf_init(&a->dir[i].acc, &w->mem, MEM_APP, DCE_ACC_MAX);
        a->dir[i].synced = true;
    }
    return a;
}

void dce_set_iface_hint(struct dce_assoc *a, const struct uuid *uuid, uint16_t ver_major,
                        enum dce_hint_source source)
{
    if (!uuid) {
        a->have_hint = false;
        return;
    }
    memset(&a->hint, 0, sizeof a->hint);
    a->hint.uuid = *uuid;
    a->hint.ver_major = ver_major;
    a->hint.ack_result = -1;
    a->hint.syntax = RPC_SYNTAX_NDR;
    a->hint.iface = iface_find(uuid);
    a->have_hint = true;
    a->hint_epm = source == DCE_HINT_EPM;
}

static struct dce_call *call_new(struct worker *w, struct dce_assoc *a, enum rpc_call_kind kind,
                                 int ep, const struct dce_hdr *h)
{
    struct dce_call *c = mem_calloc(&w->mem, MEM_APP, sizeof *c);
    if (!c) {
        w->stats.dce_memcap++;
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MEMCAP, NULL);
        return NULL;
    }
    buf_init(&c->req_stub, &w->mem, MEM_APP, w->cfg->dce_stub_max);
    buf_init(&c->res_stub, &w->mem, MEM_APP, w->cfg->dce_stub_max);
    struct rpc_call *r = &c->rec;
    r->kind = kind;
    r->transport = a->t;
    r->tx_id = a->t->tx_counter ? (*a->t->tx_counter)++ : 0;
    r->call_id = h->call_id;
    r->client_ep = (uint8_t)ep;
    r->rpc_vers_minor = h->vers_minor;
    r->le = h->le;
    r->req_ptype = h->ptype;
    r->res_ptype = RPC_PTYPE_NONE;
    r->req_ts_us = w->now_us;
    r->req_pcap_cnt = w->pcap_cnt;
    r->auth_type = a->auth_type;
    r->auth_level = a->auth_level;
    r->iface_state = &a->iface_state;
    r->sec_addr = a->sec_addr;
    return c;
}

static void call_free(struct worker *w, struct dce_call *c)
{
    buf_free(&c->req_stub);
    buf_free(&c->res_stub);
    if (c->items_alloc)
        mem_free(&w->mem, MEM_APP, c->rec.items, c->items_alloc);
    args_free(&w->mem, c->rec.args);
    mem_free(&w->mem, MEM_APP, c, sizeof *c);
}

static void call_link(struct dce_assoc *a, struct dce_call *c)
{
    c->prev = a->tail;
    c->next = NULL;
    if (a->tail)
        a->tail->next = c;
    else
        a->head = c;
    a->tail = c;
    a->n_calls++;
}

static void call_unlink(struct dce_assoc *a, struct dce_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        a->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        a->tail = c->prev;
    a->n_calls--;
}

static const struct rpc_identity *call_identity(const struct dce_assoc *a)
{
    if (a->identity.valid)
        return &a->identity;
    if (a->t->smb_identity && a->t->smb_identity->valid)
        return a->t->smb_identity;
    return NULL;
}

/* The request is complete: hand it on so alerts can fire, then drop its stub. */
static void request_done(struct worker *w, struct dce_assoc *a, struct dce_call *c)
{
    c->req_done = true;
    if (a->t->flow->overlap_conflict)
        c->rec.flags |= RPC_F_OVERLAP;
    c->rec.identity = call_identity(a);
    if (!c->rec.req_stub) {
        c->rec.req_stub = c->req_stub.data;
        c->rec.req_stub_avail = c->req_stub.len;
    }
    w->stats.dce_calls++;
    if (c->rec.sealed)
        w->stats.dce_sealed++;
    iface_request(w, &c->rec);
    c->rec.req_stub = NULL;
    c->rec.req_stub_avail = 0;
    buf_free(&c->req_stub);
}

/* The call is over (answered or given up): write it and free it. */
static void call_finish(struct worker *w, struct dce_assoc *a, struct dce_call *c, bool given_up)
{
    if (given_up) {
        c->rec.flags |= RPC_F_GIVEN_UP;
        if (c->rec.res_ptype == RPC_PTYPE_NONE)
            w->stats.dce_unreplied++;
    }
    if (c->rec.kind == RPC_KIND_REQUEST && !c->req_done && c->rec.req_ptype != RPC_PTYPE_NONE) {
        /* its last fragment never came: judge what we have */
        c->rec.flags |= RPC_F_GAP;
        request_done(w, a, c);
    }
    if (a->t->flow->overlap_conflict)
        c->rec.flags |= RPC_F_OVERLAP;
    /* as dce_sealed: calls whose request was seen */
    if (c->rec.kind == RPC_KIND_REQUEST && c->rec.sealed && (a->ntlm || a->krb) &&
        c->rec.req_ptype != RPC_PTYPE_NONE)
        c->rec.decrypted ? w->stats.dce_decrypted++ : w->stats.dce_decrypt_failed++;
    c->rec.identity = call_identity(a);
    c->rec.res_stub = c->res_stub.data;
    c->rec.res_stub_avail = c->res_stub.len;
    iface_complete(w, &c->rec);
    call_free(w, c);
}

static void bind_finish(struct worker *w, struct dce_assoc *a)
{
    struct dce_call *b = a->bind;
    if (!b)
        return;
    a->bind = NULL;
    w->stats.dce_binds++;
    call_finish(w, a, b, b->rec.res_ptype == RPC_PTYPE_NONE);
}

void dce_assoc_free(struct worker *w, struct dce_assoc *a)
{
    if (!a)
        return;
    bind_finish(w, a);
    while (a->head) {
        struct dce_call *c = a->head;
        call_unlink(a, c);
        call_finish(w, a, c, true);
    }
    for (int i = 0; i < 2; i++)
        buf_free(&a->dir[i].acc);
    if (a->ctxs)
        mem_free(&w->mem, MEM_APP, a->ctxs, (size_t)a->cap_ctxs * sizeof *a->ctxs);
    iface_assoc_state_free(w, a->iface_state);
    dce_ntlm_free(w, a->ntlm);
    dce_krb_free(w, a->krb);
    mem_free(&w->mem, MEM_APP, a, sizeof *a);
}

/* ---- presentation contexts ---- */

const struct rpc_ctx_item *dce_first_context(const struct dce_assoc *a)
{
    return a && a->n_ctxs ? &a->ctxs[0] : NULL;
}

static struct rpc_ctx_item *ctx_find(struct dce_assoc *a, uint16_t id)
{
    for (uint16_t i = 0; i < a->n_ctxs; i++)
        if (a->ctxs[i].ctx_id == id)
            return &a->ctxs[i];
    return NULL;
}

static void ctx_install(struct worker *w, struct dce_assoc *a, const struct rpc_ctx_item *it)
{
    struct rpc_ctx_item *slot = ctx_find(a, it->ctx_id);
    if (!slot) {
        if (a->n_ctxs >= w->cfg->dce_max_contexts) {
            anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_TOO_MANY_CONTEXTS, NULL);
            return;
        }
        if (a->n_ctxs == a->cap_ctxs) {
            uint16_t ncap = a->cap_ctxs ? (uint16_t)(a->cap_ctxs * 2) : 4;
            void *p = mem_realloc(&w->mem, MEM_APP, a->ctxs, (size_t)a->cap_ctxs * sizeof *a->ctxs,
                                  (size_t)ncap * sizeof *a->ctxs);
            if (!p) {
                w->stats.dce_memcap++;
                anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MEMCAP, NULL);
                return;
            }
            a->ctxs = p;
            a->cap_ctxs = ncap;
        }
        slot = &a->ctxs[a->n_ctxs++];
    }
    *slot = *it;
}

static uint8_t syntax_of(const struct uuid *u)
{
    if (uuid_eq(u, &ndr_syntax))
        return RPC_SYNTAX_NDR;
    if (uuid_eq(u, &ndr64_syntax))
        return RPC_SYNTAX_NDR64;
    if (memcmp(u->b, btfn_prefix, sizeof btfn_prefix) == 0)
        return RPC_SYNTAX_BTFN;
    return RPC_SYNTAX_UNKNOWN;
}

/* ---- PDU handlers ---- */

struct pdu {
    struct dce_hdr h;
    struct rd c;     /* over the whole PDU, positioned after the common header */
    size_t body_end; /* where the body stops: the sec_trailer, or frag_len */
    struct dce_auth auth;
};

/* Reads the sec_trailer, if any, and sets body_end. */
static void parse_auth(struct worker *w, struct dce_assoc *a, struct pdu *p)
{
    p->body_end = p->h.frag_len;
    memset(&p->auth, 0, sizeof p->auth);
    if (!p->h.auth_len)
        return;
    size_t toff = (size_t)p->h.frag_len - p->h.auth_len - 8;
    struct rd t = p->c;
    rd_seek(&t, toff);
    p->auth.type = rd_u8(&t);
    p->auth.level = rd_u8(&t);
    p->auth.pad_len = rd_u8(&t);
    rd_skip(&t, 1);
    p->auth.context_id = rd_u32(&t, p->h.le);
    p->auth.value = rd_take(&t, p->h.auth_len);
    p->auth.value_len = p->h.auth_len;
    if (!rd_ok(&t) || toff < p->c.off) {
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_INVALID_AUTH,
                      "sec_trailer outside the PDU");
        p->auth.present = false;
        return;
    }
    p->auth.present = true;
    p->auth.trailer_off = toff;
    p->body_end = toff;
}

#define AUTH_SPNEGO 9
#define AUTH_KERBEROS 16

/*
 * With a key store, the auth value goes to the mechanism that carries it:
 * Kerberos for auth type 16 and for SPNEGO tokens holding a Kerberos
 * message (and the tokens after those, such as SPNEGO's last answer), NTLMSSP
 * otherwise. A ticket opened names the client (*id).
 */
static void learn_keys(struct worker *w, struct dce_assoc *a, int ep, const struct dce_auth *au,
                       struct rpc_identity *id)
{
    const uint8_t *m;
    size_t ml;
    bool krb = au->type == AUTH_KERBEROS ||
               (au->type == AUTH_SPNEGO &&
                (krb_find(au->value, au->value_len, &m, &ml) != KRB_MSG_NONE ||
                 (a->krb_mech && ntlmssp_parse(au->value, au->value_len, NULL) == NTLMSSP_NONE)));
    if (krb) {
        a->krb_mech = true;
        if (a->krb || (a->krb = dce_krb_new(w)))
            dce_krb_auth(w, a->krb, ep, au->value, au->value_len, id);
        return;
    }
    a->krb_mech = false;
    if (a->ntlm || (a->ntlm = dce_ntlm_new(w)))
        dce_ntlm_auth(w, a->ntlm, ep, au->type, au->value, au->value_len);
}

/* Learns identity from an NTLMSSP AUTHENTICATE carried in an auth value or, with a key
 * store, from the Kerberos ticket it opens (and the exchange that unseals). */
static void learn_identity(struct worker *w, struct dce_assoc *a, int ep, const struct dce_auth *au)
{
    if (!au->present || !au->value)
        return;
    struct rpc_identity id = {0};
    if (w->cfg->keys) {
        learn_keys(w, a, ep, au, &id);
        if (id.valid) {
            a->identity = id;
            return;
        }
    }
    if (ntlmssp_parse(au->value, au->value_len, &id) == NTLMSSP_AUTHENTICATE && id.valid)
        a->identity = id;
}

static void handle_bind(struct worker *w, struct dce_assoc *a, int ep, struct pdu *p)
{
    struct rd *c = &p->c;
    bool le = p->h.le;
    rd_skip(c, 8); /* max_xmit, max_recv, assoc_group */
    uint8_t n = rd_u8(c);
    rd_skip(c, 3);
    if (!rd_ok(c)) {
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MALFORMED_PDU, "short bind");
        return;
    }
    if (a->bind) /* the previous one was never answered */
        bind_finish(w, a);
    enum rpc_call_kind kind = p->h.ptype == DCE_BIND ? RPC_KIND_BIND : RPC_KIND_ALTER_CONTEXT;
    struct dce_call *b = call_new(w, a, kind, ep, &p->h);
    if (!b)
        return;
    if (n <= sizeof b->items_inline / sizeof b->items_inline[0]) {
        b->rec.items = b->items_inline;
    } else {
        b->items_alloc = (size_t)n * sizeof *b->rec.items;
        b->rec.items = mem_calloc(&w->mem, MEM_APP, b->items_alloc);
        if (!b->rec.items) {
            b->items_alloc = 0;
            w->stats.dce_memcap++;
            call_free(w, b);
            return;
        }
    }
    for (uint8_t i = 0; i < n; i++) {
        struct rpc_ctx_item it;
        memset(&it, 0, sizeof it);
        it.ctx_id = rd_u16(c, le);
        uint8_t nts = rd_u8(c);
        rd_skip(c, 1);
        it.uuid = rd_uuid(c, le);
        uint32_t ver = rd_u32(c, le);
        it.ver_major = (uint16_t)(ver & 0xffff);
        it.ver_minor = (uint16_t)(ver >> 16);
        it.ack_result = -1;
        for (uint8_t k = 0; k < nts; k++) {
            struct uuid ts = rd_uuid(c, le);
            rd_skip(c, 4);
            if (k == 0)
                it.syntax = syntax_of(&ts);
        }
        if (!rd_ok(c) || c->off > p->body_end) {
            anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MALFORMED_PDU,
                          "context list runs past the bind");
            break;
        }
        it.iface = iface_find(&it.uuid);
        b->rec.items[b->rec.n_items++] = it;
        /* usable at once, so a one-sided capture still names its calls */
        ctx_install(w, a, &it);
    }
    if (p->auth.present) {
        a->auth_type = p->auth.type;
        a->auth_level = p->auth.level;
        b->rec.auth_type = p->auth.type;
        b->rec.auth_level = p->auth.level;
        learn_identity(w, a, ep, &p->auth);
    }
    a->bind = b;
}

static void handle_bind_ack(struct worker *w, struct dce_assoc *a, int ep, struct pdu *p)
{
    struct rd *c = &p->c;
    bool le = p->h.le;
    struct dce_call *b = a->bind;
    if (!b) {
        /* its bind was not captured: a record of the answer alone, as Suricata writes */
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_UNMATCHED_BINDACK, NULL);
        enum rpc_call_kind kind =
            p->h.ptype == DCE_ALTER_CONTEXT_RESP ? RPC_KIND_ALTER_CONTEXT : RPC_KIND_BIND;
        b = call_new(w, a, kind, 1 - ep, &p->h);
        if (!b)
            return;
        b->rec.req_ptype = RPC_PTYPE_NONE;
        b->rec.req_ts_us = 0;
        b->rec.req_pcap_cnt = 0;
        a->bind = b;
    }
    if (p->h.ptype == DCE_BIND_NAK) {
        b->rec.res_ptype = DCE_BIND_NAK;
    } else {
        rd_skip(c, 8);
        uint16_t sec_len = rd_u16(c, le);
        /* the port ("135") or pipe ("\\PIPE\\lsass") the server says it listens on;
           alter_context answers carry an empty one, which keeps the first */
        if (sec_len > 1 && rd_left(c) >= sec_len)
            printable_copy(c->p + c->off, sec_len, a->sec_addr, sizeof a->sec_addr);
        rd_skip(c, sec_len);
        rd_align(c, 4);
        uint8_t n = rd_u8(c);
        rd_skip(c, 3);
        for (uint8_t i = 0; i < n && rd_ok(c); i++) {
            uint16_t result = rd_u16(c, le);
            uint16_t reason = rd_u16(c, le);
            struct uuid ts = rd_uuid(c, le);
            rd_skip(c, 4);
            if (!rd_ok(c) || i >= b->rec.n_items)
                break;
            /* results are positional: the i-th answers the i-th proposed context */
            struct rpc_ctx_item *it = &b->rec.items[i];
            it->ack_result = (int16_t)result;
            it->ack_reason = reason;
            if (result == 0)
                it->syntax = syntax_of(&ts);
            else if (result == 3)
                it->syntax = RPC_SYNTAX_BTFN;
            ctx_install(w, a, it);
        }
        if (!rd_ok(c))
            anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MALFORMED_PDU,
                          "short bind_ack");
        b->rec.res_ptype = p->h.ptype;
    }
    if (p->auth.present)
        learn_identity(w, a, ep, &p->auth);
    b->rec.res_frags = 1;
    b->rec.res_ts_us = w->now_us;
    b->rec.res_pcap_cnt = w->pcap_cnt;
    bind_finish(w, a);
}

static struct dce_call *find_call(struct dce_assoc *a, uint32_t call_id, bool req_open)
{
    for (struct dce_call *c = a->head; c; c = c->next)
        if (c->rec.call_id == call_id && c->rec.kind == RPC_KIND_REQUEST &&
            (!req_open || (!c->req_done && c->rec.req_ptype != RPC_PTYPE_NONE)))
            return c;
    return NULL;
}

static void give_up(struct worker *w, struct dce_assoc *a, struct dce_call *c)
{
    call_unlink(a, c);
    call_finish(w, a, c, true);
}

/* Gives up calls older than the call timeout; keeps the count under its cap. */
static void sweep_calls(struct worker *w, struct dce_assoc *a)
{
    uint64_t limit = (uint64_t)w->cfg->dce_call_timeout * 1000000;
    while (a->head && a->head->req_done && a->head->rec.req_ts_us + limit < w->now_us)
        give_up(w, a, a->head);
    while (a->head && a->n_calls >= w->cfg->dce_max_calls) {
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_TOO_MANY_CALLS, NULL);
        give_up(w, a, a->head);
    }
}

/*
 * A TCP association without a hint asks the endpoint mapper's table at each
 * call whose bind it has not seen: the answer may have come after the
 * connection opened (a capture that starts mid-way).
 */
static void epm_hint(struct worker *w, struct dce_assoc *a)
{
    if (a->have_hint || a->t->kind != RPC_TRANSPORT_TCP)
        return;
    struct uuid iface;
    uint16_t ver_major;
    if (a->t->mapper_hint && a->t->mapper_hint(w, a->t, &iface, &ver_major)) {
        dce_set_iface_hint(a, &iface, ver_major, DCE_HINT_EPM);
        w->stats.epm_named++;
    }
}

static void set_ctx(struct worker *w, struct dce_assoc *a, struct rpc_call *r)
{
    struct rpc_ctx_item *ctx = ctx_find(a, r->ctx_id);
    if (ctx) {
        r->ctx = *ctx;
        return;
    }
    r->flags |= RPC_F_CTX_UNKNOWN;
    epm_hint(w, a);
    if (a->have_hint) {
        r->ctx = a->hint;
        r->ctx.ctx_id = r->ctx_id;
        r->flags |= RPC_F_IFACE_HINT | (a->hint_epm ? RPC_F_IFACE_EPM : 0);
    } else {
        memset(&r->ctx, 0, sizeof r->ctx);
        r->ctx.ctx_id = r->ctx_id;
        r->ctx.ack_result = -1;
    }
}

/* Appends a fragment's stub to buf, up to the cap; marks the call when it is cut. */
static void stub_append(struct worker *w, struct dce_assoc *a, struct dce_call *c, struct buf *b,
                        const uint8_t *p, size_t n)
{
    if (!n)
        return;
    if (b->len + n > w->cfg->dce_stub_max) {
        size_t room = w->cfg->dce_stub_max > b->len ? w->cfg->dce_stub_max - b->len : 0;
        if (!(c->rec.flags & RPC_F_STUB_TRUNC))
            anomaly_raise_call(w, &c->rec, &a->anomalies_seen, ANOM_DCE_STUB_TOO_LARGE,
                               "the stub is larger than --stub-max: the rest is not kept");
        c->rec.flags |= RPC_F_STUB_TRUNC;
        n = room;
    }
    if (n && !buf_append(b, p, n)) {
        c->rec.flags |= RPC_F_STUB_TRUNC;
        w->stats.dce_memcap++;
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MEMCAP, NULL);
    }
}

/* The stub of a request/response PDU: [start, body_end - pad). */
static bool stub_slice(struct worker *w, struct dce_assoc *a, struct pdu *p, size_t start,
                       const uint8_t **out, size_t *len)
{
    size_t end = p->body_end;
    if (p->auth.present) {
        if (p->auth.pad_len > end - start) {
            anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_INVALID_AUTH,
                          "auth padding longer than the stub");
        } else {
            end -= p->auth.pad_len;
        }
    }
    struct rd c = p->c;
    rd_seek(&c, start);
    *len = end > start ? end - start : 0;
    *out = rd_take(&c, *len);
    return *out != NULL || *len == 0;
}

/*
 * A fragment at packet privacy, with a key store: its stub is unsealed and
 * verified in place of the ciphertext (dce_ntlm.c); a failure leaves the
 * ciphertext, and the call is not decrypted.
 */
static void unseal_fragment(struct worker *w, struct dce_assoc *a, struct dce_call *call, int ep,
                            const struct pdu *p, size_t start, const uint8_t **stub, size_t *len)
{
    if (!p->auth.present || p->auth.level != 6 || !w->cfg->keys)
        return;
    struct dce_sealed_pdu s = {p->c.p, p->h.frag_len,       p->h.auth_len,
                               start,  p->auth.trailer_off, p->auth.pad_len};
    if (a->krb_mech) {
        if (!a->krb && !(a->krb = dce_krb_new(w)))
            return;
        if (!dce_krb_unseal(w, a->krb, a->t->flow, &a->anomalies_seen, ep, &s, stub, len))
            call->decrypt_failed = true;
    } else {
        if (!a->ntlm && !(a->ntlm = dce_ntlm_new(w)))
            return;
        if (!dce_ntlm_unseal(w, a->ntlm, a->t->flow, &a->anomalies_seen, ep, &s, stub, len))
            call->decrypt_failed = true;
    }
    call->rec.decrypted = !call->decrypt_failed;
}

static void handle_request(struct worker *w, struct dce_assoc *a, int ep, struct pdu *p)
{
    struct rd *c = &p->c;
    bool le = p->h.le;
    rd_skip(c, 4); /* alloc_hint */
    uint16_t ctx_id = rd_u16(c, le);
    uint16_t opnum = rd_u16(c, le);
    struct uuid object = {{0}};
    bool has_object = (p->h.flags & DCE_PFC_OBJECT_UUID) != 0;
    if (has_object)
        object = rd_uuid(c, le);
    if (!rd_ok(c) || c->off > p->body_end) {
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MALFORMED_PDU, "short request");
        return;
    }
    const uint8_t *stub;
    size_t stub_len;
    size_t stub_start = c->off;
    if (!stub_slice(w, a, p, stub_start, &stub, &stub_len))
        return;

    bool first = p->h.flags & DCE_PFC_FIRST_FRAG, last = p->h.flags & DCE_PFC_LAST_FRAG;
    struct dce_call *call = find_call(a, p->h.call_id, false);
    if (call && first) {
        /* a new call with the id of one still open */
        if (!call->req_done)
            anomaly_raise_call(w, &call->rec, &a->anomalies_seen, ANOM_DCE_FRAG_MISMATCH,
                               "first fragment while the previous request was incomplete");
        else
            anomaly_raise_call(w, &call->rec, &a->anomalies_seen, ANOM_DCE_CALL_ID_REUSE,
                               "a new request with the call_id of a call still open");
        give_up(w, a, call);
        call = NULL;
    } else if (call && call->req_done) {
        /* a continuation of a request already complete: a fresh call picked up mid-way */
        anomaly_raise_call(w, &call->rec, &a->anomalies_seen, ANOM_DCE_FRAG_MISMATCH,
                           "continuation fragment after the last fragment");
        give_up(w, a, call);
        call = NULL;
    }
    if (!call) {
        sweep_calls(w, a);
        call = call_new(w, a, RPC_KIND_REQUEST, ep, &p->h);
        if (!call)
            return;
        struct rpc_call *r = &call->rec;
        r->ctx_id = ctx_id;
        r->opnum = opnum;
        r->has_object = has_object;
        r->object = object;
        if (!first)
            r->flags |= RPC_F_MIDSTREAM;
        if (a->dir[ep].lost)
            r->flags |= RPC_F_GAP;
        if (p->auth.present) {
            r->auth_type = p->auth.type;
            r->auth_level = p->auth.level;
        }
        r->sealed = r->auth_level == 6;
        set_ctx(w, a, r);
        call_link(a, call);
    }
    struct rpc_call *r = &call->rec;
    unseal_fragment(w, a, call, ep, p, stub_start, &stub, &stub_len);
    r->req_frags++;
    r->req_stub_len += stub_len;
    if (first && last && call->req_stub.len == 0) {
        /* the common case: one fragment, judged in place without a copy */
        r->req_stub = stub;
        r->req_stub_avail = stub_len;
    } else {
        stub_append(w, a, call, &call->req_stub, stub, stub_len);
    }
    if (last) {
        /* a request is dated by the packet that completes it: where alerts fire */
        r->req_ts_us = w->now_us;
        r->req_pcap_cnt = w->pcap_cnt;
        request_done(w, a, call);
        if (p->h.flags & 0x40 /* PFC_MAYBE: no response will come */) {
            call_unlink(a, call);
            call_finish(w, a, call, false);
        }
    }
}

static void handle_response(struct worker *w, struct dce_assoc *a, int ep, struct pdu *p)
{
    struct rd *c = &p->c;
    bool le = p->h.le;
    rd_skip(c, 4); /* alloc_hint */
    uint16_t ctx_id = rd_u16(c, le);
    rd_skip(c, 2); /* cancel_count, reserved */
    uint32_t status = 0;
    if (p->h.ptype == DCE_FAULT) {
        status = rd_u32(c, le);
        rd_skip(c, 4);
    }
    if (!rd_ok(c) || c->off > p->body_end) {
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MALFORMED_PDU, "short response");
        return;
    }
    struct dce_call *call = find_call(a, p->h.call_id, false);
    if (!call) {
        /* its request was not seen (one-sided or mid-stream capture) */
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_ORPHAN_RESPONSE, NULL);
        call = call_new(w, a, RPC_KIND_REQUEST, 1 - ep, &p->h);
        if (!call)
            return;
        call->rec.req_ptype = RPC_PTYPE_NONE;
        call->rec.ctx_id = ctx_id;
        call->rec.req_ts_us = 0;
        call->rec.req_pcap_cnt = 0;
        call->req_done = true;
        set_ctx(w, a, &call->rec);
        call_link(a, call);
    }
    struct rpc_call *r = &call->rec;
    if (!call->req_done) {
        r->flags |= RPC_F_GAP;
        request_done(w, a, call);
    }
    r->res_frags++;
    if (p->auth.present && p->auth.level == 6)
        r->sealed = true;
    if (p->h.ptype == DCE_FAULT) {
        r->fault_status = status;
    } else {
        const uint8_t *stub;
        size_t stub_len;
        if (stub_slice(w, a, p, c->off, &stub, &stub_len)) {
            unseal_fragment(w, a, call, ep, p, c->off, &stub, &stub_len);
            r->res_stub_len += stub_len;
            stub_append(w, a, call, &call->res_stub, stub, stub_len);
        }
    }
    if (p->h.ptype == DCE_FAULT || (p->h.flags & DCE_PFC_LAST_FRAG)) {
        r->res_ptype = p->h.ptype;
        r->res_ts_us = w->now_us;
        r->res_pcap_cnt = w->pcap_cnt;
        call_unlink(a, call);
        call_finish(w, a, call, false);
    }
}

static void handle_pdu(struct worker *w, struct dce_assoc *a, int ep, const uint8_t *data,
                       size_t len)
{
    struct pdu p;
    if (dce_hdr_check(data, len, &p.h) != 1)
        return;
    p.c = rd_init(data, p.h.frag_len);
    rd_skip(&p.c, DCE_HDR_LEN);
    w->stats.dce_pdus++;
    parse_auth(w, a, &p);
    switch (p.h.ptype) {
    case DCE_BIND:
    case DCE_ALTER_CONTEXT: handle_bind(w, a, ep, &p); break;
    case DCE_BIND_ACK:
    case DCE_BIND_NAK:
    case DCE_ALTER_CONTEXT_RESP: handle_bind_ack(w, a, ep, &p); break;
    case DCE_REQUEST: handle_request(w, a, ep, &p); break;
    case DCE_RESPONSE:
    case DCE_FAULT: handle_response(w, a, ep, &p); break;
    case DCE_AUTH3: learn_identity(w, a, ep, &p.auth); break;
    case DCE_SHUTDOWN:
    case DCE_CO_CANCEL:
    case DCE_ORPHANED:
    case DCE_RTS: break;
    default:
        anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_UNEXPECTED_PTYPE, NULL);
        break;
    }
    a->dir[ep].lost = false;
}

/* ---- framing ---- */

/* Processes whole PDUs at the start of the direction's buffer; keeps the rest. */
static void process_acc(struct worker *w, struct dce_assoc *a, int ep)
{
    struct dce_dir *d = &a->dir[ep];
    size_t off = 0;
    for (;;) {
        size_t avail = d->acc.len - off;
        struct dce_hdr h;
        if (!d->synced) {
            size_t start = off;
            int r = -1;
            for (; off < d->acc.len; off++) {
                r = dce_hdr_check(d->acc.data + off, d->acc.len - off, NULL);
                if (r >= 0)
                    break;
            }
            if (off > start) {
                w->stats.dce_resyncs++;
                d->lost = true;
            }
            if (r != 1)
                break; /* nothing yet, or a header cut short at the end */
            d->synced = true;
            if (off > start)
                anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_RESYNC,
                              "skipped bytes to the next valid header");
            continue;
        }
        int r = dce_hdr_check(d->acc.data + off, avail, &h);
        if (r == 0)
            break;
        if (r < 0) {
            anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_INVALID_HEADER, NULL);
            d->synced = false;
            off++;
            continue;
        }
        if (h.frag_len > avail)
            break;
        handle_pdu(w, a, ep, d->acc.data + off, h.frag_len);
        off += h.frag_len;
    }
    buf_consume(&d->acc, off);
}

void dce_data(struct worker *w, struct dce_assoc *a, int ep, const uint8_t *data, size_t len)
{
    struct dce_dir *d = &a->dir[ep & 1];
    ep &= 1;
    while (len > 0) {
        if (d->synced && d->acc.len == 0) {
            /* whole PDUs straight from the caller's bytes */
            struct dce_hdr h;
            int r = dce_hdr_check(data, len, &h);
            if (r == 1 && h.frag_len <= len) {
                handle_pdu(w, a, ep, data, h.frag_len);
                data += h.frag_len;
                len -= h.frag_len;
                continue;
            }
            if (r < 0) {
                anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_INVALID_HEADER, NULL);
                d->synced = false;
            }
        }
        size_t room = DCE_ACC_MAX - d->acc.len;
        size_t take = len < room ? len : room;
        if (!buf_append(&d->acc, data, take)) {
            /* no memory for it: lose these bytes and re-synchronise after them */
            w->stats.dce_memcap++;
            anomaly_raise(w, a->t->flow, &a->anomalies_seen, ANOM_DCE_MEMCAP, NULL);
            buf_clear(&d->acc);
            d->synced = false;
            d->lost = true;
        }
        data += take;
        len -= take;
        process_acc(w, a, ep);
    }
}

void dce_gap(struct worker *w, struct dce_assoc *a, int ep)
{
    struct dce_dir *d = &a->dir[ep & 1];
    (void)w;
    buf_clear(&d->acc);
    d->synced = false;
    d->lost = true;
    if (a->ntlm)
        dce_ntlm_gap(a->ntlm, ep & 1);
    /* requests still being assembled lost a piece */
    for (struct dce_call *c = a->head; c; c = c->next)
        if (!c->req_done || c->rec.client_ep != (ep & 1))
            c->rec.flags |= RPC_F_GAP;
}
