/*
 * NTLMSSP (MS-NLMP): the user, domain and workstation of an AUTHENTICATE
 * message, found raw or inside SPNEGO/GSS-API wrapping. Serves DCE/RPC auth
 * trailers and SMB SESSION_SETUP alike. With an operator's NT hash
 * (src/keys), the session keys of the exchange and the unsealing of its
 * messages (MS-NLMP 3.4): src/auth/ntlm_crypto.c, libgcrypt only. Keys
 * computed here never leave the caller's memory: nothing here logs.
 */
#ifndef RPCSENTRY_NTLMSSP_H
#define RPCSENTRY_NTLMSSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/rpc_call.h"

enum ntlmssp_type {
    NTLMSSP_NONE = 0,
    NTLMSSP_NEGOTIATE = 1,
    NTLMSSP_CHALLENGE = 2,
    NTLMSSP_AUTHENTICATE = 3
};

/*
 * Looks for an NTLMSSP message in blob (raw, or wrapped in SPNEGO). Returns
 * its type, or NTLMSSP_NONE. For AUTHENTICATE, fills id and sets id->valid
 * (an empty user name is an anonymous logon).
 */
enum ntlmssp_type ntlmssp_parse(const uint8_t *blob, size_t len, struct rpc_identity *id);

/* NegotiateFlags (MS-NLMP 2.2.2.5) the session security depends on */
#define NTLMSSP_F_UNICODE 0x00000001u
#define NTLMSSP_F_SIGN 0x00000010u
#define NTLMSSP_F_SEAL 0x00000020u
#define NTLMSSP_F_LM_KEY 0x00000080u
#define NTLMSSP_F_ESS 0x00080000u /* NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY */
#define NTLMSSP_F_128 0x20000000u
#define NTLMSSP_F_KEY_EXCH 0x40000000u
#define NTLMSSP_F_56 0x80000000u

/*
 * The fields of one message that session security needs. The byte slices
 * point into the blob given to ntlmssp_parse_msg (valid as long as it is);
 * absent fields have length 0.
 */
struct ntlmssp_msg {
    enum ntlmssp_type type;
    uint32_t flags;
    uint8_t server_challenge[8]; /* CHALLENGE */
    /* AUTHENTICATE */
    const uint8_t *lm, *nt, *domain, *user, *session_key;
    size_t lm_len, nt_len, domain_len, user_len, session_key_len;
    bool unicode; /* domain and user are UTF-16LE (else OEM bytes) */
};

/* As ntlmssp_parse, filling m; NTLMSSP_NONE when no whole message is there. */
enum ntlmssp_type ntlmssp_parse_msg(const uint8_t *blob, size_t len, struct ntlmssp_msg *m);

/* Is blob an SPNEGO negTokenResp ([1]) that carries a mechListMIC ([3])? */
bool spnego_has_mic(const uint8_t *blob, size_t len);

/* Session keys of an exchange (MS-NLMP 3.4.5): [0] client to server, [1] server to client. */
struct ntlm_keys {
    uint32_t flags; /* the negotiated flags they were made for */
    bool v2;        /* from an NTLMv2 response (else NTLMv1 with extended session security) */
    uint8_t response_key_nt[16], session_base_key[16], key_exchange_key[16], exported[16];
    uint8_t sign[2][16], seal[2][16];
};

/*
 * Computes the keys from an NT hash, the CHALLENGE's server challenge and the
 * AUTHENTICATE (auth) under the negotiated flags. NULL on success, else why
 * not: "wrong key..." (the NTLMv2 proof does not match this hash: try the
 * next), "unsupported: ...", "malformed: ...". Never mentions key bytes.
 */
const char *ntlm_derive_keys(const uint8_t nt_hash[16], const uint8_t server_challenge[8],
                             const struct ntlmssp_msg *auth, uint32_t flags, struct ntlm_keys *k);

/* Wipes k. */
void ntlm_keys_wipe(struct ntlm_keys *k);

/*
 * Sealing state of one security context: an RC4 stream per direction,
 * carried across messages in order (MS-NLMP 3.4.3), and the signing keys.
 */
struct gcry_cipher_handle;
struct ntlm_sealer {
    struct gcry_cipher_handle *rc4[2];
    uint8_t sign[2][16], seal[2][16];
    uint32_t flags;
};

/* Opens the two RC4 streams; false when libgcrypt refuses (then nothing to clear). */
bool ntlm_sealer_init(struct ntlm_sealer *s, const struct ntlm_keys *k);
/* Closes the streams and wipes the keys. */
void ntlm_sealer_clear(struct ntlm_sealer *s);

/*
 * Seals msg[soff, soff + slen) in place in direction dir (0: client to
 * server) and writes the 16-byte NTLMSSP_MESSAGE_SIGNATURE (ESS) over the
 * plaintext msg[0, len) with sequence number seq.
 */
void ntlm_seal(struct ntlm_sealer *s, int dir, uint8_t *msg, size_t len, size_t soff, size_t slen,
               uint32_t seq, uint8_t sig[16]);

/*
 * The reverse: decrypts msg[soff, soff + slen) in place, then checks sig (the
 * stream goes on into its checksum). 1: it signs the whole msg[0, len)
 * (DCE/RPC header signing); 2: the sealed bytes alone; 0: neither (the
 * plaintext must not be used; the stream has still moved on).
 */
int ntlm_unseal(struct ntlm_sealer *s, int dir, uint8_t *msg, size_t len, size_t soff, size_t slen,
                const uint8_t sig[16]);

/* A signature made in dir outside the messages we unseal (SPNEGO's mechListMIC): the
 * stream moves. */
void ntlm_sealer_skip(struct ntlm_sealer *s, int dir);

/* Both streams start again from their keys (SPNEGO, once both mechListMICs are exchanged). */
bool ntlm_sealer_reset(struct ntlm_sealer *s);

#endif
