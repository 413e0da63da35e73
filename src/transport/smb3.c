/*
 * SMB 3 encryption in the SMB engine: what a connection's NEGOTIATE and
 * SESSION_SETUP say (dialect, cipher, the 3.1.1 pre-authentication hash, the
 * NTLMSSP exchange), the session keys learnt from them or given by the
 * operator, and the decryption of TRANSFORM_HEADER messages, whose plaintext
 * goes through smb2_message as a clear message does.
 *
 * Only with a key store (--ntlm-secrets or --smb-keys): without one, nothing
 * here runs and an encrypted message is the smb.encrypted_session anomaly it
 * always was. How a session key is learnt (NTLMSSP, or Kerberos with a keytab:
 * the AP-REQ of the first request opened, the AP-REP of the final response
 * giving the acceptor's subkey; both through smb3_session_key) is kept apart
 * from what is made of it
 * (smb3_crypto.c's derivation), and the keys of a session sit in a table of
 * the worker keyed by server address and SessionId, so that every channel of
 * the session (SMB 3 multichannel) finds them.
 */
#include <stdio.h>
#include <string.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/kerberos.h"
#include "rpcsentry/keys.h"
#include "rpcsentry/ntlmssp.h"
#include "rpcsentry/smb3.h"
#include "rpcsentry/worker.h"
#include "smb_internal.h"

#define SMB3_TABLE_MAX 256 /* sessions whose keys a worker holds */
#define SMB3_CONN_SETUPS 8 /* sessions being set up at once on one connection */

/* A session being set up on this connection. */
struct smb3_setup {
    bool used, have_hash, have_challenge;
    bool binding; /* a channel bound to the session: its keys are not this setup's */
    uint64_t id;
    uint8_t hash[SMB3_PREAUTH_LEN]; /* the session's pre-authentication hash so far */
    uint8_t challenge[8];
    uint32_t challenge_flags;
};

struct smb3_conn {
    uint16_t dialect; /* 0 until the NEGOTIATE response */
    uint16_t cipher;  /* the server's choice (3.1.1) or AES-128-CCM (3.0.x); 0: none */
    bool have_conn_hash, have_pending;
    uint8_t conn_hash[SMB3_PREAUTH_LEN]; /* over the NEGOTIATE request and response */
    uint8_t pending[SMB3_PREAUTH_LEN];   /* a SESSION_SETUP request with SessionId 0 */
    struct smb3_setup setup[SMB3_CONN_SETUPS];
    unsigned next;
    /* Kerberos: the AP-REQ of a first request (SessionId 0), until its response names the
       session; or why it could not be opened */
    struct krb_session *krb;
    char krb_fail[160];
};

/* A session's keys, for all its channels. */
struct smb3_entry {
    bool used, have_keys, have_ctx, have_hash;
    uint8_t server[16];
    uint64_t id;
    uint16_t dialect, cipher;          /* with have_ctx: its connection's */
    uint8_t preauth[SMB3_PREAUTH_LEN]; /* with have_hash: the session's 3.1.1 hash */
    struct smb3_keys keys;
    struct smb3_handles hs; /* the keys' cipher handles, kept while the entry lives */
    char fail[128];         /* why it has no keys, when a mechanism said ("" otherwise) */
};

struct smb3_table {
    struct smb3_entry e[SMB3_TABLE_MAX];
    unsigned next;
    uint8_t *plain; /* the plaintext of the message being decrypted */
    size_t plain_cap;
};

/* ---- state ---- */

static struct smb3_conn *conn_state(struct worker *w, struct smb_conn *c)
{
    if (!w->cfg->keys)
        return NULL;
    if (!c->s3)
        c->s3 = mem_calloc(&w->mem, MEM_APP, sizeof *c->s3);
    return c->s3;
}

static void krb_drop(struct worker *w, struct smb3_conn *s)
{
    if (s->krb) {
        krb_session_wipe(s->krb);
        mem_free(&w->mem, MEM_APP, s->krb, sizeof *s->krb);
        s->krb = NULL;
    }
}

void smb3_conn_free(struct worker *w, struct smb_conn *c)
{
    if (!c->s3)
        return;
    krb_drop(w, c->s3);
    explicit_bzero(c->s3, sizeof *c->s3);
    mem_free(&w->mem, MEM_APP, c->s3, sizeof *c->s3);
    c->s3 = NULL;
}

void smb3_table_free(struct worker *w)
{
    struct smb3_table *t = w->smb3;
    if (!t)
        return;
    if (t->plain) {
        explicit_bzero(t->plain, t->plain_cap);
        mem_free(&w->mem, MEM_APP, t->plain, t->plain_cap);
    }
    for (unsigned i = 0; i < SMB3_TABLE_MAX; i++)
        smb3_handles_close(&t->e[i].hs);
    explicit_bzero(t, sizeof *t); /* every key */
    mem_free(&w->mem, MEM_APP, t, sizeof *t);
    w->smb3 = NULL;
}

static struct smb3_setup *setup_get(struct smb3_conn *s, uint64_t id, bool create)
{
    for (unsigned i = 0; i < SMB3_CONN_SETUPS; i++)
        if (s->setup[i].used && s->setup[i].id == id)
            return &s->setup[i];
    if (!create)
        return NULL;
    struct smb3_setup *u = &s->setup[s->next++ % SMB3_CONN_SETUPS];
    explicit_bzero(u, sizeof *u);
    u->used = true;
    u->id = id;
    return u;
}

/* The session's entry: by the connection's server, or (the server not known yet,
 * a capture that starts inside an encrypted session) by either address. */
static struct smb3_table *table(struct worker *w)
{
    if (!w->smb3)
        w->smb3 = mem_calloc(&w->mem, MEM_APP, sizeof *w->smb3);
    return w->smb3;
}

static struct smb3_entry *entry_get(struct worker *w, struct smb_conn *c, uint64_t id, bool create)
{
    struct smb3_table *t = create && c->server_ep >= 0 ? table(w) : w->smb3;
    if (!t)
        return NULL;
    for (unsigned i = 0; i < SMB3_TABLE_MAX; i++) {
        struct smb3_entry *e = &t->e[i];
        if (!e->used || e->id != id)
            continue;
        for (int ep = 0; ep < 2; ep++)
            if ((c->server_ep < 0 || ep == c->server_ep) &&
                memcmp(e->server, c->flow->key.addr[ep], 16) == 0)
                return e;
    }
    if (!create || c->server_ep < 0)
        return NULL;
    struct smb3_entry *e = &t->e[t->next++ % SMB3_TABLE_MAX]; /* the oldest makes room */
    smb3_handles_close(&e->hs);
    explicit_bzero(e, sizeof *e);
    e->used = true;
    e->id = id;
    memcpy(e->server, c->flow->key.addr[c->server_ep], 16);
    return e;
}

static void entry_fail(struct worker *w, struct smb_conn *c, uint64_t id, const char *why)
{
    struct smb3_entry *e = entry_get(w, c, id, true);
    if (e && !e->have_keys) {
        size_t n = strnlen(why, sizeof e->fail - 1);
        memcpy(e->fail, why, n);
        e->fail[n] = '\0';
    }
}

/* ---- the session key, however it was learnt ---- */

/*
 * smb3_derive with what a capture may not have told: no NEGOTIATE seen (dialect 0) is
 * taken for 3.0.x, whose keys need no hash; no cipher seen (3.0.x without the
 * capability, 3.1.1 without the context) leaves the cipher to the first tag that
 * verifies, among those of the key's length.
 */
static const char *derive(const uint8_t *key, size_t len, uint16_t dialect, uint16_t cipher,
                          const uint8_t *hash, struct smb3_keys *out)
{
    if (!dialect)
        dialect = 0x0300;
    uint16_t c = cipher ? cipher : dialect == 0x0311 ? SMB3_AES_128_GCM : SMB3_AES_128_CCM;
    const char *why = smb3_derive(key, len, dialect, c, hash, out);
    if (!why && !cipher)
        out->cipher = SMB3_CIPHER_NONE;
    return why;
}

bool smb3_session_key(struct worker *w, struct smb_conn *c, uint64_t session_id, const uint8_t *key,
                      size_t len)
{
    struct smb3_conn *s = conn_state(w, c);
    if (!s || !session_id)
        return false;
    struct smb3_entry *e = entry_get(w, c, session_id, true);
    if (!e)
        return false;
    if (e->have_keys)
        return true; /* a re-authentication keeps the session's keys (MS-SMB2 3.3.5.5.3) */
    struct smb3_setup *u = setup_get(s, session_id, false);
    const uint8_t *h = u && u->have_hash ? u->hash : NULL;
    struct smb3_keys k;
    const char *why = derive(key, len, s->dialect, s->cipher, h, &k);
    if (why) {
        snprintf(e->fail, sizeof e->fail, "%s", why);
        smb3_keys_wipe(&k);
        return false;
    }
    smb3_handles_close(&e->hs);
    e->keys = k;
    e->have_keys = true;
    e->fail[0] = '\0';
    smb3_keys_wipe(&k);
    return true;
}

/* ---- NEGOTIATE ---- */

/* The cipher of the 3.1.1 response's SMB2_ENCRYPTION_CAPABILITIES context, or 0. */
static uint16_t negotiate_cipher(const uint8_t *cmd, size_t len, struct rd body)
{
    /* body is a view of the message from its header on, at the body */
    rd_skip(&body, 6); /* size, security mode, dialect */
    uint16_t count = rd_u16le(&body);
    rd_seek(&body, 64 + 60);
    uint32_t off = rd_u32le(&body);
    if (!rd_ok(&body))
        return 0;
    struct rd m = rd_init(cmd, len);
    rd_seek(&m, off);
    for (unsigned i = 0; i < count && i < 16 && rd_ok(&m); i++) {
        rd_align(&m, 8);
        uint16_t type = rd_u16le(&m), dlen = rd_u16le(&m);
        rd_skip(&m, 4);
        struct rd d = rd_sub(&m, dlen);
        if (type == 0x0002) { /* SMB2_ENCRYPTION_CAPABILITIES */
            uint16_t n = rd_u16le(&d), id = rd_u16le(&d);
            return rd_ok(&d) && n >= 1 ? id : 0;
        }
    }
    return 0;
}

void smb3_negotiate(struct worker *w, struct smb_conn *c, bool response, uint32_t status,
                    const uint8_t *cmd, size_t len, struct rd body)
{
    struct smb3_conn *s = conn_state(w, c);
    if (!s)
        return;
    if (!response) {
        memset(s->conn_hash, 0, sizeof s->conn_hash);
        smb3_preauth_update(s->conn_hash, cmd, len);
        s->have_conn_hash = true;
        return;
    }
    if (status != STATUS_SUCCESS)
        return;
    struct rd b = body;
    rd_skip(&b, 4);
    uint16_t dialect = rd_u16le(&b);
    rd_seek(&b, 64 + 24);
    uint32_t caps = rd_u32le(&b);
    if (!rd_ok(&b))
        return;
    s->dialect = dialect;
    if (dialect == 0x0311) {
        s->cipher = negotiate_cipher(cmd, len, body);
        if (s->have_conn_hash)
            smb3_preauth_update(s->conn_hash, cmd, len);
    } else {
        s->have_conn_hash = false; /* 3.0.x keys need no hash */
        s->cipher =
            (dialect == 0x0300 || dialect == 0x0302) && (caps & 0x40) ? SMB3_AES_128_CCM : 0;
    }
}

/* ---- SESSION_SETUP ---- */

struct try_ctx {
    const struct smb3_setup *u;
    const struct ntlmssp_msg *m;
    uint32_t flags;
    struct ntlm_keys keys;
    const char *why;
    bool found;
};

static bool try_hash(const uint8_t hash[KEYS_NT_HASH_LEN], void *ctx)
{
    struct try_ctx *t = ctx;
    t->why = ntlm_derive_keys(hash, t->u->challenge, t->m, t->flags, &t->keys);
    if (!t->why) {
        t->found = true;
        return true;
    }
    ntlm_keys_wipe(&t->keys);
    return strncmp(t->why, "wrong key", 9) != 0;
}

/* The AUTHENTICATE of session id: its ExportedSessionKey from an operator's NT hash. */
static void ntlm_authenticate(struct worker *w, struct smb_conn *c, uint64_t id,
                              const struct smb3_setup *u, const uint8_t *blob, size_t len,
                              const struct ntlmssp_msg *m)
{
    char why[200];
    struct rpc_identity ident;
    ntlmssp_parse(blob, len, &ident);
    if (!u || !u->have_challenge) {
        entry_fail(w, c, id, "the NTLMSSP CHALLENGE of the session was not seen");
        return;
    }
    if (!ident.user[0] || !m->nt_len) {
        entry_fail(w, c, id, "unsupported: anonymous NTLM logon");
        return;
    }
    struct try_ctx t = {.u = u, .m = m, .flags = m->flags ? m->flags : u->challenge_flags};
    size_t named = keys_nt_for_each(w->cfg->keys, ident.domain, ident.user, try_hash, &t);
    if (!t.found) {
        if (!named)
            snprintf(why, sizeof why, "no key for user %.60s\\%.60s", ident.domain, ident.user);
        else
            snprintf(why, sizeof why, "%.60s (user %.60s\\%.60s)", t.why, ident.domain, ident.user);
        entry_fail(w, c, id, why);
        return;
    }
    smb3_session_key(w, c, id, t.keys.exported, sizeof t.keys.exported);
    ntlm_keys_wipe(&t.keys);
}

/* What the session's keys will be derived with when the operator's key is needed: the
 * connection's dialect and cipher, the session's hash so far. */
static void entry_context(struct worker *w, struct smb_conn *c, const struct smb3_conn *s,
                          const struct smb3_setup *u)
{
    struct smb3_entry *e = entry_get(w, c, u->id, true);
    if (!e || e->have_keys)
        return;
    e->have_ctx = true;
    e->dialect = s->dialect;
    e->cipher = s->cipher;
    e->have_hash = u->have_hash;
    if (u->have_hash)
        memcpy(e->preauth, u->hash, sizeof e->preauth);
}

/* A first request's AP-REQ: opened with the keytab, kept until the response names the session. */
static void krb_request(struct worker *w, struct smb3_conn *s, const uint8_t *msg, size_t len)
{
    krb_drop(w, s);
    s->krb_fail[0] = '\0';
    if (!(s->krb = mem_calloc(&w->mem, MEM_APP, sizeof *s->krb)))
        return;
    const char *why = krb_accept_ap_req(w->cfg->keys, msg, len, s->krb);
    if (why) {
        snprintf(s->krb_fail, sizeof s->krb_fail, "%.40s for the ticket of %.100s", why,
                 s->krb->server[0] ? s->krb->server : "an unnamed service");
        krb_drop(w, s);
    }
}

/*
 * The response that names the session of a Kerberos request: the server's AP-REP (when
 * mutual) gives its subkey, which is then the session key (MS-KILE 3.1.1.2: the acceptor's
 * subkey, else the initiator's, else the ticket's session key); the client is the ticket's.
 */
static void krb_response(struct worker *w, struct smb_conn *c, struct smb3_conn *s, uint64_t id,
                         uint32_t status, const uint8_t *blob, size_t blob_len)
{
    if (s->krb_fail[0]) {
        entry_fail(w, c, id, s->krb_fail);
        s->krb_fail[0] = '\0';
        return;
    }
    struct krb_session *k = s->krb;
    if (!k)
        return;
    const uint8_t *msg;
    size_t mlen;
    enum krb_msg km = blob ? krb_find(blob, blob_len, &msg, &mlen) : KRB_MSG_NONE;
    const char *why = NULL;
    if (km == KRB_MSG_AP_REP)
        why = krb_take_ap_rep(k, msg, mlen);
    else if (km == KRB_MSG_ERROR)
        why = "the server refused the AP-REQ (KRB-ERROR)";
    if (why) {
        entry_fail(w, c, id, why);
    } else if (status == STATUS_SUCCESS) {
        const struct krb_key *key = k->acceptor.enctype    ? &k->acceptor
                                    : k->initiator.enctype ? &k->initiator
                                                           : &k->ticket;
        smb3_session_key(w, c, id, key->bytes, key->len);
        struct rpc_identity ident = {.valid = true};
        snprintf(ident.user, sizeof ident.user, "%s", k->client);
        snprintf(ident.domain, sizeof ident.domain, "%s", k->realm);
        smb_session_learn(w, c, id, &ident);
    } else if (status == STATUS_MORE_PROCESSING) {
        return; /* another leg comes: the session stays pending */
    }
    krb_drop(w, s);
}

void smb3_session_setup(struct worker *w, struct smb_conn *c, bool response, uint32_t status,
                        uint64_t id, bool binding, const uint8_t *cmd, size_t len,
                        const uint8_t *blob, size_t blob_len)
{
    struct smb3_conn *s = conn_state(w, c);
    if (!s)
        return;
    bool hashing = s->dialect == 0x0311 && s->have_conn_hash;
    struct ntlmssp_msg m;
    enum ntlmssp_type nt = blob ? ntlmssp_parse_msg(blob, blob_len, &m) : NTLMSSP_NONE;
    if (!response) {
        if (binding) { /* a channel bound to a session: the session's keys stay */
            struct smb3_setup *b = id ? setup_get(s, id, true) : NULL;
            if (b)
                b->binding = true;
            return;
        }
        struct smb3_setup *u = NULL;
        if (!id) {
            if (hashing) {
                memcpy(s->pending, s->conn_hash, sizeof s->pending);
                smb3_preauth_update(s->pending, cmd, len);
                s->have_pending = true;
            }
        } else if ((u = setup_get(s, id, true))) {
            if (hashing && !u->have_hash) {
                memcpy(u->hash, s->conn_hash, sizeof u->hash);
                u->have_hash = true;
            }
            if (hashing)
                smb3_preauth_update(u->hash, cmd, len);
            entry_context(w, c, s, u); /* for a key the operator gives */
        }
        if (nt == NTLMSSP_AUTHENTICATE && id)
            ntlm_authenticate(w, c, id, u, blob, blob_len, &m);
        const uint8_t *msg;
        size_t mlen;
        if (nt == NTLMSSP_NONE && blob && krb_find(blob, blob_len, &msg, &mlen) == KRB_MSG_AP_REQ)
            krb_request(w, s, msg, mlen);
        return;
    }
    if (!id)
        return;
    struct smb3_setup *u =
        setup_get(s, id, status == STATUS_MORE_PROCESSING || status == STATUS_SUCCESS);
    if (!u || u->binding)
        return;
    if (hashing && !u->have_hash && s->have_pending) {
        memcpy(u->hash, s->pending, sizeof u->hash);
        u->have_hash = true;
        s->have_pending = false;
    }
    if (status == STATUS_MORE_PROCESSING) {
        if (hashing && u->have_hash)
            smb3_preauth_update(u->hash, cmd, len); /* the final response is not hashed */
        if (nt == NTLMSSP_CHALLENGE) {
            u->have_challenge = true;
            u->challenge_flags = m.flags;
            memcpy(u->challenge, m.server_challenge, 8);
        }
    } else if (status == STATUS_SUCCESS) {
        entry_context(w, c, s, u);
    }
    if (s->krb || s->krb_fail[0])
        krb_response(w, c, s, id, status, blob, blob_len);
}

/* ---- TRANSFORM_HEADER ---- */

/* The operator's keys for the session, made into its keys with what the connection
 * and the session's setup said. NULL, or why not. */
static const char *operator_keys(struct worker *w, struct smb_conn *c, struct smb3_entry *e,
                                 uint64_t id, struct smb3_keys *out)
{
    struct keys_smb3 k;
    if (!keys_smb3_find(w->cfg->keys, id, &k))
        return NULL;
    const char *why = NULL;
    uint16_t dialect = e && e->have_ctx ? e->dialect : c->s3 ? c->s3->dialect : 0;
    uint16_t cipher = e && e->have_ctx ? e->cipher : c->s3 ? c->s3->cipher : 0;
    memset(out, 0, sizeof *out);
    if (k.dir_len) {
        out->key_len = k.dir_len;
        memcpy(out->dir[0], k.c2s, k.dir_len);
        memcpy(out->dir[1], k.s2c, k.dir_len);
        out->cipher = smb3_cipher_key_len(cipher) == k.dir_len ? cipher : SMB3_CIPHER_NONE;
    } else {
        const uint8_t *h = e && e->have_ctx && e->have_hash ? e->preauth : NULL;
        why = derive(k.session_key, k.session_key_len, dialect, cipher, h, out);
    }
    explicit_bzero(&k, sizeof k);
    return why ? why : "";
}

static void failed(struct worker *w, struct smb_conn *c, const char *why)
{
    w->stats.smb_decrypt_failed++;
    smb_anomaly(w, c, ANOM_SMB_ENCRYPTED, why);
}

/* Room for n bytes of plaintext in the worker's buffer, charged to the memcap. */
static uint8_t *plain_room(struct worker *w, size_t n)
{
    struct smb3_table *t = table(w);
    if (!t)
        return NULL;
    if (t->plain_cap >= n)
        return t->plain;
    size_t cap = t->plain_cap ? t->plain_cap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *p = mem_alloc(&w->mem, MEM_APP, cap);
    if (!p)
        return NULL;
    if (t->plain)
        mem_free(&w->mem, MEM_APP, t->plain, t->plain_cap);
    t->plain = p;
    t->plain_cap = cap;
    return p;
}

void smb3_transform(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg, size_t len)
{
    char why[200];
    struct smb3_transform t;
    const char *bad = smb3_transform_parse(msg, len, &t);
    if (c->partial) {
        snprintf(why, sizeof why, "unsupported: an encrypted message larger than %u bytes",
                 SMB_BUF_MAX);
        failed(w, c, why);
        return;
    }
    if (bad) {
        failed(w, c, bad);
        return;
    }
    struct smb3_entry *e = entry_get(w, c, t.session_id, false);
    struct smb3_keys given, *keys = e && e->have_keys ? &e->keys : NULL;
    memset(&given, 0, sizeof given);
    if (!keys) {
        const char *r = operator_keys(w, c, e, t.session_id, &given);
        if (r && !r[0]) {
            keys = &given;
            if (e || (e = entry_get(w, c, t.session_id, true))) { /* kept for its channels */
                smb3_handles_close(&e->hs);
                e->keys = given;
                e->have_keys = true;
                e->fail[0] = '\0';
                keys = &e->keys;
            }
        } else {
            if (r)
                snprintf(why, sizeof why, "%s (session 0x%016llx)", r,
                         (unsigned long long)t.session_id);
            else if (e && e->fail[0])
                snprintf(why, sizeof why, "no key for session 0x%016llx: %s",
                         (unsigned long long)t.session_id, e->fail);
            else
                snprintf(why, sizeof why, "no key for session 0x%016llx",
                         (unsigned long long)t.session_id);
            smb3_keys_wipe(&given);
            failed(w, c, why);
            return;
        }
    }
    uint8_t *plain = plain_room(w, t.original_size);
    if (!plain) {
        smb3_keys_wipe(&given);
        failed(w, c, "memcap: no room for the plaintext");
        return;
    }
    /* the server's messages are under the server-to-client key; a capture that starts
       encrypted has not told which end is the server: both are tried */
    int dir = c->server_ep < 0 ? 0 : ep == c->server_ep ? 1 : 0;
    uint16_t used = 0;
    struct smb3_handles *hs = e && keys == &e->keys ? &e->hs : NULL;
    const char *r = smb3_decrypt_kept(keys, hs, dir, &t, plain, &used);
    if (r && c->server_ep < 0)
        r = smb3_decrypt_kept(keys, hs, dir = 1, &t, plain, &used);
    if (!r && keys->cipher == SMB3_CIPHER_NONE)
        keys->cipher = used; /* the one that verified */
    smb3_keys_wipe(&given);
    if (r) {
        snprintf(why, sizeof why, "%s (session 0x%016llx)", r, (unsigned long long)t.session_id);
        failed(w, c, why);
        return;
    }
    if (c->server_ep < 0)
        c->server_ep = dir == 1 ? ep : 1 - ep;
    w->stats.smb_decrypted++;
    struct rd p = rd_init(plain, t.original_size);
    uint8_t m0 = rd_u8(&p), m1 = rd_u8(&p), m2 = rd_u8(&p), m3 = rd_u8(&p);
    if (!rd_ok(&p) || m1 != 'S' || m2 != 'M' || m3 != 'B') {
        smb_anomaly(w, c, ANOM_SMB_MALFORMED, "decrypted message without an SMB signature");
        return;
    }
    if (m0 == 0xfe) {
        c->decrypting = true;
        smb2_message(w, c, ep, plain, t.original_size);
        c->decrypting = false;
    } else if (m0 != 0xfc) /* compressed: not decoded, as in the clear */
        smb_anomaly(w, c, ANOM_SMB_MALFORMED, "decrypted message is not SMB2");
}
