/*
 * Kerberos packet privacy on a DCE/RPC association (see dce_krb.h).
 *
 * The exchange is learnt as it passes: the client's AP-REQ (in the bind or
 * alter_context; the ticket opened with a keytab key, then the
 * authenticator), the server's AP-REP (its subkey, which DCE-style and
 * mutual exchanges seal with), and the client's third-leg AP-REP of DCE
 * style (nothing new in it). Each sealed fragment is then unwrapped on its
 * own: Kerberos wrap tokens carry no state from one to the next.
 */
#include "dce_krb.h"

#include <stdio.h>
#include <string.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/kerberos.h"
#include "rpcsentry/rpc_call.h"
#include "rpcsentry/worker.h"

#define PLAIN_MAX (65535 + 16)

struct dce_krb {
    int8_t client_ep; /* -1: not known yet */
    bool have_keys;
    struct krb_session s;
    char fail[400]; /* why sealed PDUs cannot be opened ("" while they may be) */
    struct buf plain;
};

struct dce_krb *dce_krb_new(struct worker *w)
{
    struct dce_krb *k = mem_calloc(&w->mem, MEM_APP, sizeof *k);
    if (!k) {
        w->stats.dce_memcap++;
        return NULL;
    }
    k->client_ep = -1;
    buf_init(&k->plain, &w->mem, MEM_APP, PLAIN_MAX);
    snprintf(k->fail, sizeof k->fail, "the Kerberos AP-REQ was not seen");
    return k;
}

void dce_krb_free(struct worker *w, struct dce_krb *k)
{
    if (!k)
        return;
    krb_session_wipe(&k->s);
    if (k->plain.data)
        explicit_bzero(k->plain.data, k->plain.alloc);
    buf_free(&k->plain);
    mem_free(&w->mem, MEM_APP, k, sizeof *k);
}

bool dce_krb_auth(struct worker *w, struct dce_krb *k, int ep, const uint8_t *value, size_t len,
                  struct rpc_identity *id)
{
    const uint8_t *msg;
    size_t mlen;
    const char *why;
    switch (krb_find(value, len, &msg, &mlen)) {
    case KRB_MSG_AP_REQ:
        /* a new security context on the association */
        k->client_ep = (int8_t)ep;
        k->have_keys = false;
        why = krb_accept_ap_req(w->cfg->keys, msg, mlen, &k->s);
        if (why) {
            snprintf(k->fail, sizeof k->fail, "%s for the ticket of %s", why,
                     k->s.server[0] ? k->s.server : "an unnamed service");
            krb_session_wipe(&k->s);
            return true;
        }
        k->have_keys = true;
        k->fail[0] = '\0';
        if (id) {
            memset(id, 0, sizeof *id);
            id->valid = true;
            snprintf(id->user, sizeof id->user, "%s", k->s.client);
            snprintf(id->domain, sizeof id->domain, "%s", k->s.realm);
        }
        return true;
    case KRB_MSG_AP_REP:
        /* the server's answer carries its subkey; the client's DCE-style third leg nothing */
        if (k->have_keys && ep != k->client_ep && (why = krb_take_ap_rep(&k->s, msg, mlen))) {
            k->have_keys = false;
            snprintf(k->fail, sizeof k->fail, "%s", why);
        }
        return true;
    case KRB_MSG_ERROR:
        if (ep != k->client_ep) {
            k->have_keys = false;
            snprintf(k->fail, sizeof k->fail, "the server refused the AP-REQ (KRB-ERROR)");
        }
        return true;
    case KRB_MSG_NONE: break;
    }
    return false;
}

static void failed(struct worker *w, struct dce_krb *k, const struct flow_ref *fr,
                   anomaly_mask *seen, const char *why)
{
    if (why != k->fail)
        snprintf(k->fail, sizeof k->fail, "%s", why);
    anomaly_raise(w, fr, seen, ANOM_DCE_DECRYPT_FAILED, k->fail);
}

bool dce_krb_unseal(struct worker *w, struct dce_krb *k, const struct flow_ref *fr,
                    anomaly_mask *seen, int ep, const struct dce_sealed_pdu *s,
                    const uint8_t **stub, size_t *len)
{
    if (!k->have_keys) {
        failed(w, k, fr, seen, k->fail);
        return false;
    }
    if (s->body_off > s->trailer_off || s->trailer_off + 8 + s->auth_len != s->frag_len) {
        failed(w, k, fr, seen, "signature mismatch: the verifier does not fit the PDU");
        return false;
    }
    size_t signed_len = s->frag_len - s->auth_len;
    buf_clear(&k->plain);
    if (!buf_append(&k->plain, s->pdu, signed_len)) {
        failed(w, k, fr, seen, "no memory to unseal");
        return false;
    }
    size_t sealed_len = s->trailer_off - s->body_off;
    struct krb_dce_pdu p = {.pdu = k->plain.data,
                            .body_off = s->body_off,
                            .sealed_len = sealed_len,
                            .token = s->pdu + signed_len,
                            .token_len = s->auth_len,
                            .from_acceptor = ep != k->client_ep};
    const char *why = krb_unwrap_dce(&k->s, &p);
    if (why) {
        explicit_bzero(k->plain.data, k->plain.len);
        failed(w, k, fr, seen, why);
        return false;
    }
    size_t pad = s->pad_len <= sealed_len ? s->pad_len : 0;
    *stub = k->plain.data + s->body_off;
    *len = sealed_len - pad;
    return true;
}
