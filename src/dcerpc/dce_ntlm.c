/*
 * NTLMSSP packet privacy on a DCE/RPC association (see dce_ntlm.h).
 *
 * The exchange is learnt as it passes: NEGOTIATE (who the client is),
 * CHALLENGE (the server challenge), AUTHENTICATE (user, domain, responses,
 * EncryptedRandomSessionKey); at the AUTHENTICATE each NT hash the store
 * holds for the user is tried (an NTLMv2 response tells the right one) and
 * the session's sealing state kept: one RC4 stream per direction that runs
 * on across PDUs in capture order (MS-NLMP 3.4.3). Each sealed fragment is
 * unsealed on its own (MS-RPCE 2.2.2.11: the stub and its auth padding are
 * sealed; the signature covers the PDU from its header through the
 * sec_trailer, the stub as plaintext, or the stub alone without header
 * signing) and used only when its signature verifies.
 */
#include "dce_ntlm.h"

#include <stdio.h>
#include <string.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/keys.h"
#include "rpcsentry/ntlmssp.h"
#include "rpcsentry/worker.h"

#define AUTH_SPNEGO 9
#define AUTH_NTLMSSP 10
#define NTLM_VERIFIER_LEN 16
#define PLAIN_MAX (65535 + 16)

struct dce_ntlm {
    bool have_challenge, have_keys;
    int8_t client_ep; /* -1: not known yet */
    bool lost[2];     /* bytes of that direction (0: client's) were lost since the keys */
    uint32_t challenge_flags;
    uint8_t server_challenge[8];
    char fail[400]; /* why sealed PDUs cannot be opened ("" while they may be) */
    struct ntlm_sealer sealer;
    struct buf plain; /* the fragment being unsealed: header through sec_trailer */
};

struct dce_ntlm *dce_ntlm_new(struct worker *w)
{
    struct dce_ntlm *n = mem_calloc(&w->mem, MEM_APP, sizeof *n);
    if (!n) {
        w->stats.dce_memcap++;
        return NULL;
    }
    n->client_ep = -1;
    buf_init(&n->plain, &w->mem, MEM_APP, PLAIN_MAX);
    snprintf(n->fail, sizeof n->fail, "the NTLMSSP exchange was not seen");
    return n;
}

static void drop_keys(struct dce_ntlm *n)
{
    if (n->have_keys)
        ntlm_sealer_clear(&n->sealer);
    n->have_keys = false;
}

void dce_ntlm_free(struct worker *w, struct dce_ntlm *n)
{
    if (!n)
        return;
    drop_keys(n);
    if (n->plain.data)
        explicit_bzero(n->plain.data, n->plain.alloc);
    buf_free(&n->plain);
    mem_free(&w->mem, MEM_APP, n, sizeof *n);
}

/* ---- the exchange ---- */

struct try_ctx {
    const struct dce_ntlm *n;
    const struct ntlmssp_msg *m;
    uint32_t flags;
    struct ntlm_keys keys;
    const char *why; /* the last refusal */
    bool found;
};

static bool try_key(const uint8_t hash[KEYS_NT_HASH_LEN], void *ctx)
{
    struct try_ctx *t = ctx;
    t->why = ntlm_derive_keys(hash, t->n->server_challenge, t->m, t->flags, &t->keys);
    if (!t->why) {
        t->found = true;
        return true;
    }
    ntlm_keys_wipe(&t->keys);
    /* a wrong hash: the next one may fit; anything else is about the exchange, not the key */
    return strncmp(t->why, "wrong key", 9) != 0;
}

static void authenticate(struct worker *w, struct dce_ntlm *n, int ep, uint8_t auth_type,
                         const uint8_t *v, size_t len, const struct ntlmssp_msg *m)
{
    drop_keys(n);
    n->client_ep = (int8_t)ep;
    if (!n->have_challenge) {
        snprintf(n->fail, sizeof n->fail, "the NTLMSSP CHALLENGE was not seen");
        return;
    }
    struct rpc_identity id;
    ntlmssp_parse(v, len, &id);
    if (!id.user[0] || !m->nt_len) {
        snprintf(n->fail, sizeof n->fail, "unsupported: anonymous NTLM logon");
        return;
    }
    struct try_ctx t = {.n = n, .m = m, .flags = m->flags ? m->flags : n->challenge_flags};
    size_t named = keys_nt_for_each(w->cfg->keys, id.domain, id.user, try_key, &t);
    if (!named) {
        snprintf(n->fail, sizeof n->fail, "no key for user %s\\%s", id.domain, id.user);
        return;
    }
    if (!t.found) {
        snprintf(n->fail, sizeof n->fail, "%s (user %s\\%s)", t.why, id.domain, id.user);
        return;
    }
    bool ok = ntlm_sealer_init(&n->sealer, &t.keys);
    ntlm_keys_wipe(&t.keys);
    if (!ok) {
        snprintf(n->fail, sizeof n->fail, "unsupported: libgcrypt refused RC4");
        return;
    }
    n->have_keys = true;
    n->lost[0] = n->lost[1] = false;
    n->fail[0] = '\0';
    /* SPNEGO's mechListMIC beside the AUTHENTICATE is the client's first signature */
    if (auth_type == AUTH_SPNEGO && spnego_has_mic(v, len))
        ntlm_sealer_skip(&n->sealer, 0);
}

void dce_ntlm_auth(struct worker *w, struct dce_ntlm *n, int ep, uint8_t auth_type,
                   const uint8_t *value, size_t len)
{
    if (!value || !len)
        return;
    if (auth_type != AUTH_NTLMSSP && auth_type != AUTH_SPNEGO) {
        drop_keys(n);
        snprintf(n->fail, sizeof n->fail, "unsupported: auth type %u%s", auth_type,
                 auth_type == 16   ? " (Kerberos)"
                 : auth_type == 68 ? " (Netlogon secure channel)"
                                   : "");
        return;
    }
    struct ntlmssp_msg m;
    switch (ntlmssp_parse_msg(value, len, &m)) {
    case NTLMSSP_NEGOTIATE:
        /* a new security context on the association */
        drop_keys(n);
        n->have_challenge = false;
        n->client_ep = (int8_t)ep;
        snprintf(n->fail, sizeof n->fail, "the NTLMSSP exchange did not complete");
        break;
    case NTLMSSP_CHALLENGE:
        n->have_challenge = true;
        n->challenge_flags = m.flags;
        memcpy(n->server_challenge, m.server_challenge, 8);
        if (n->client_ep < 0)
            n->client_ep = (int8_t)(1 - ep);
        break;
    case NTLMSSP_AUTHENTICATE: authenticate(w, n, ep, auth_type, value, len, &m); break;
    case NTLMSSP_NONE:
        /* the server's last SPNEGO token: with its mechListMIC both MICs are exchanged, and
           both sides start their NTLM streams again (MS-SPNG 3.3.5.1; Samba's
           gensec_may_reset_crypto) */
        if (auth_type == AUTH_SPNEGO && n->have_keys && ep != n->client_ep &&
            spnego_has_mic(value, len) && !ntlm_sealer_reset(&n->sealer)) {
            drop_keys(n);
            snprintf(n->fail, sizeof n->fail, "unsupported: libgcrypt refused RC4");
        } else if (auth_type == AUTH_SPNEGO && !n->have_keys && !n->have_challenge)
            snprintf(n->fail, sizeof n->fail, "unsupported: SPNEGO without NTLMSSP (Kerberos)");
        break;
    }
}

void dce_ntlm_gap(struct dce_ntlm *n, int ep)
{
    if (n->have_keys)
        n->lost[ep == n->client_ep ? 0 : 1] = true;
}

static void failed(struct worker *w, struct dce_ntlm *n, const struct flow_ref *fr,
                   anomaly_mask *seen, const char *why)
{
    if (why != n->fail)
        snprintf(n->fail, sizeof n->fail, "%s", why);
    anomaly_raise(w, fr, seen, ANOM_DCE_DECRYPT_FAILED, n->fail);
}

bool dce_ntlm_unseal(struct worker *w, struct dce_ntlm *n, const struct flow_ref *fr,
                     anomaly_mask *seen, int ep, const struct dce_sealed_pdu *s,
                     const uint8_t **stub, size_t *len)
{
    if (!n->have_keys) {
        failed(w, n, fr, seen, n->fail);
        return false;
    }
    if (s->auth_len < NTLM_VERIFIER_LEN || s->body_off > s->trailer_off ||
        s->trailer_off + 8 + s->auth_len != s->frag_len) {
        failed(w, n, fr, seen, "signature mismatch: the verifier is not an NTLMSSP signature");
        return false;
    }
    size_t signed_len = s->frag_len - s->auth_len;
    struct rd c = rd_init(s->pdu, s->frag_len);
    const uint8_t *head = rd_take(&c, signed_len);
    const uint8_t *sig = rd_take(&c, NTLM_VERIFIER_LEN);
    buf_clear(&n->plain);
    if (!head || !sig || !buf_append(&n->plain, head, signed_len)) {
        failed(w, n, fr, seen, "no memory to unseal");
        return false;
    }
    int dir = ep == n->client_ep ? 0 : 1;
    if (n->lost[dir]) {
        failed(w, n, fr, seen,
               "bytes were lost: the RC4 stream of that direction cannot be followed");
        return false;
    }
    size_t sealed_len = s->trailer_off - s->body_off;
    int r = ntlm_unseal(&n->sealer, dir, n->plain.data, signed_len, s->body_off, sealed_len, sig);
    if (!r) {
        explicit_bzero(n->plain.data, n->plain.len);
        failed(w, n, fr, seen, "signature mismatch");
        return false;
    }
    size_t pad = s->pad_len <= sealed_len ? s->pad_len : 0;
    *stub = n->plain.data + s->body_off;
    *len = sealed_len - pad;
    return true;
}
