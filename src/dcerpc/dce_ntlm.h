/*
 * Unsealing NTLMSSP packet privacy on a DCE/RPC association (issue 17): what
 * the engine keeps per association once a key store is loaded (never
 * without one), fed the auth values of binds, alter_contexts, their answers
 * and auth3, and asked to unseal each sealed request/response fragment.
 * Private to src/dcerpc.
 */
#ifndef RPCSENTRY_DCE_NTLM_H
#define RPCSENTRY_DCE_NTLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/types.h"

struct worker;
struct flow_ref;
struct dce_ntlm;

/* The state of one association, charged to the worker's memcap; NULL when refused. */
struct dce_ntlm *dce_ntlm_new(struct worker *w);
/* Wipes the keys and frees; NULL is fine. */
void dce_ntlm_free(struct worker *w, struct dce_ntlm *n);

/* An auth value (auth_type, value) sent by flow endpoint ep in a bind, alter_context, answer or
 * auth3. */
void dce_ntlm_auth(struct worker *w, struct dce_ntlm *n, int ep, uint8_t auth_type,
                   const uint8_t *value, size_t len);

/* Bytes sent by ep were lost: that direction's RC4 stream can no longer be followed. */
void dce_ntlm_gap(struct dce_ntlm *n, int ep);

/* One sealed request/response fragment: the PDU and where its parts are. */
struct dce_sealed_pdu {
    const uint8_t *pdu;
    size_t frag_len, auth_len;
    size_t body_off;    /* where the sealed bytes start (after the request/response header) */
    size_t trailer_off; /* the sec_trailer: the sealed bytes end there */
    size_t pad_len;     /* auth padding at the end of the sealed bytes, not stub */
};

/*
 * Unseals fragment s sent by ep and verifies its signature. True: *stub and
 * *len give the plaintext stub (valid until the next call on n). False: it
 * could not be (no key, wrong key, signature mismatch, unsupported): the
 * first time, a dcerpc.decrypt_failed anomaly with the reason, on the
 * association's mask `seen`; nothing of the fragment may be used as plaintext.
 */
bool dce_ntlm_unseal(struct worker *w, struct dce_ntlm *n, const struct flow_ref *fr,
                     anomaly_mask *seen, int ep, const struct dce_sealed_pdu *s,
                     const uint8_t **stub, size_t *len);

#endif
