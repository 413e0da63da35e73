/*
 * Kerberos (RFC 4120, RFC 4121, RFC 4757, MS-KILE) as an acceptor that only
 * listens: with the service's long-term key from a keytab (src/keys), the
 * AP-REQ's ticket opens the session key and the client's name, the
 * authenticator the initiator's subkey, the server's AP-REP the acceptor's
 * subkey; with those, the GSS wrap tokens of DCE/RPC packet privacy are
 * unsealed and verified. Serves DCE/RPC auth trailers (auth types 16 and 9)
 * and, later, SMB SESSION_SETUP alike.
 *
 * The DER of the messages is read here (bounded, no allocation but the
 * decrypted parts); every cipher and checksum is MIT krb5's (krb5_c_*) or,
 * for the RC4 wrap token, libgcrypt's. Nothing here logs or prints a key.
 */
#ifndef RPCSENTRY_KERBEROS_H
#define RPCSENTRY_KERBEROS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keystore;

/* What a GSS token carries, found raw, GSS-framed (RFC 2743 3.1) or inside SPNEGO. */
enum krb_msg {
    KRB_MSG_NONE = 0, /* no Kerberos message (NTLMSSP, a bare SPNEGO answer, ...) */
    KRB_MSG_AP_REQ,
    KRB_MSG_AP_REP,
    KRB_MSG_ERROR,
};

/* Finds the Kerberos message in token; *msg and *msg_len give it (its DER) when not NONE. */
enum krb_msg krb_find(const uint8_t *token, size_t len, const uint8_t **msg, size_t *msg_len);

#define KRB_KEY_MAX 32
#define KRB_NAME_MAX 128

struct krb_key {
    int32_t enctype; /* 0: none */
    uint8_t len;
    uint8_t bytes[KRB_KEY_MAX];
    void *k5; /* MIT's key object with its derived keys, made on first use; NULL: not yet */
};

/* The security context of one exchange, as far as the capture showed it. */
struct krb_session {
    struct krb_key ticket;     /* the ticket's session key */
    struct krb_key initiator;  /* the authenticator's subkey */
    struct krb_key acceptor;   /* the AP-REP's subkey */
    char client[KRB_NAME_MAX]; /* the ticket's client principal, without the realm */
    char realm[KRB_NAME_MAX];  /* the client's realm */
    char server[KRB_NAME_MAX]; /* the ticket's service principal (name/instance@REALM) */
    uint8_t layout; /* the last wrap token's key, rotation and signing that verified, +1 */
};

/*
 * Opens an AP-REQ (its DER from krb_find) with the store's keys: the ticket
 * with each key of its enctype (its kvno first) until one verifies, then the
 * authenticator. *s must be zeroed or a session of before (it is wiped
 * first). NULL and *s filled, or why not ("no key ...", "wrong key ...",
 * "unsupported: ...", "malformed ..."); *s is wiped then.
 */
const char *krb_accept_ap_req(const struct keystore *ks, const uint8_t *msg, size_t len,
                              struct krb_session *s);

/* Opens the server's AP-REP with the session key: its subkey becomes s->acceptor. */
const char *krb_take_ap_rep(struct krb_session *s, const uint8_t *msg, size_t len);

/*
 * One sealed DCE/RPC fragment (MS-RPCE 2.2.2.11, MS-KILE 3.4.5.4): pdu holds
 * it from its header through the sec_trailer (the auth value, token, apart);
 * pdu[body_off, body_off + sealed_len) are the sealed bytes, replaced by the
 * plaintext on success; the sec_trailer's 8 bytes follow them. The checksum
 * is tried over the sealed bytes alone and, for header signing, with the PDU
 * header and the sec_trailer signed too. NULL on success, or why not.
 */
struct krb_dce_pdu {
    uint8_t *pdu;
    size_t body_off, sealed_len;
    const uint8_t *token;
    size_t token_len;
    bool from_acceptor; /* sent by the server */
};
const char *krb_unwrap_dce(struct krb_session *s, struct krb_dce_pdu *p);

/* Frees MIT's key objects and zeroes the session's keys (the session may be used again). */
void krb_session_wipe(struct krb_session *s);

#endif
