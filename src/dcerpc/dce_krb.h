/*
 * Unsealing Kerberos packet privacy on a DCE/RPC association (issue 17):
 * what the engine keeps per association once a key store with keytab keys
 * is loaded, fed the auth values of binds, alter_contexts, their answers and
 * auth3 (auth type 16, or SPNEGO 9 carrying Kerberos), and asked to unseal
 * each sealed request/response fragment. Private to src/dcerpc; the
 * messages and tokens are src/auth/kerberos.c's.
 */
#ifndef RPCSENTRY_DCE_KRB_H
#define RPCSENTRY_DCE_KRB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dce_ntlm.h" /* struct dce_sealed_pdu */

struct worker;
struct flow_ref;
struct dce_krb;
struct rpc_identity;

/* The state of one association, charged to the worker's memcap; NULL when refused. */
struct dce_krb *dce_krb_new(struct worker *w);
/* Wipes the keys and frees; NULL is fine. */
void dce_krb_free(struct worker *w, struct dce_krb *k);

/*
 * An auth value sent by flow endpoint ep. True when it carried a Kerberos
 * message (AP-REQ, AP-REP, KRB-ERROR); with an AP-REQ opened, *id is the
 * ticket's client and realm.
 */
bool dce_krb_auth(struct worker *w, struct dce_krb *k, int ep, const uint8_t *value, size_t len,
                  struct rpc_identity *id);

/* As dce_ntlm_unseal, for Kerberos wrap tokens (RFC 4121 CFX, RFC 4757 rc4-hmac). */
bool dce_krb_unseal(struct worker *w, struct dce_krb *k, const struct flow_ref *fr,
                    anomaly_mask *seen, int ep, const struct dce_sealed_pdu *s,
                    const uint8_t **stub, size_t *len);

#endif
