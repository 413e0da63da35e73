/*
 * SMB 3 encryption (MS-SMB2 2.2.41, 3.1.4.2-3.1.4.4): the keys of a session
 * from its session key, the pre-authentication integrity hash of 3.1.1, and
 * the decryption of a TRANSFORM_HEADER message. Pure functions over byte
 * buffers, libgcrypt only (HMAC-SHA256, SHA-512, AES-CCM, AES-GCM); nothing
 * here knows how the session key was learnt (NTLMSSP, Kerberos, the
 * operator's --smb-keys) and nothing here logs. Part of the transport stage
 * (src/transport/smb3_crypto.c; the SMB engine's use of it is smb3.c).
 */
#ifndef RPCSENTRY_SMB3_H
#define RPCSENTRY_SMB3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Cipher ids of SMB2_ENCRYPTION_CAPABILITIES (MS-SMB2 2.2.3.1.2). */
enum smb3_cipher {
    SMB3_CIPHER_NONE = 0,
    SMB3_AES_128_CCM = 1,
    SMB3_AES_128_GCM = 2,
    SMB3_AES_256_CCM = 3,
    SMB3_AES_256_GCM = 4,
};

#define SMB3_TRANSFORM_LEN 52
#define SMB3_PREAUTH_LEN 64 /* SHA-512 */
#define SMB3_KEY_MAX 32

/* A name for a cipher id ("AES-128-GCM"), or NULL when unknown. */
const char *smb3_cipher_name(uint16_t cipher);
/* Key length in bytes of a known cipher (16 or 32), 0 otherwise. */
size_t smb3_cipher_key_len(uint16_t cipher);

/*
 * SP800-108 KDF in counter mode with HMAC-SHA256 (MS-SMB2 3.1.4.2): one
 * block, PRF(key, [1]_32be || label || 0x00 || context || [L]_32be), its
 * first L/8 bytes into out (L: 128 or 256). label and context are given
 * with their own terminating NULs, as MS-SMB2 writes them.
 */
void smb3_kdf(const uint8_t *key, size_t key_len, const void *label, size_t label_len,
              const void *context, size_t context_len, unsigned l_bits, uint8_t *out);

/* The pre-authentication integrity hash: h = SHA-512(h || msg) (MS-SMB2 3.2.5.2). */
void smb3_preauth_update(uint8_t h[SMB3_PREAUTH_LEN], const uint8_t *msg, size_t len);

/* A session's encryption keys: [0] client to server (ServerIn), [1] server to client. */
struct smb3_keys {
    uint16_t cipher; /* SMB3_CIPHER_NONE: try every cipher of key_len */
    uint8_t key_len; /* 16 or 32 */
    uint8_t dir[2][SMB3_KEY_MAX];
};

/*
 * Derives the keys (MS-SMB2 3.2.5.3.1/3.3.5.5.3) of a session of dialect
 * (0x0300, 0x0302, 0x0311) and cipher from its session key (the full key
 * the mechanism gave: its first 16 bytes for 128-bit ciphers, all of it,
 * FullSessionKey, for 256-bit ones). preauth: the session's hash, needed
 * for 3.1.1 only. NULL on success, else why not (never a key byte).
 */
const char *smb3_derive(const uint8_t *session_key, size_t sk_len, uint16_t dialect,
                        uint16_t cipher, const uint8_t *preauth, struct smb3_keys *out);

/* The fields of a TRANSFORM_HEADER (MS-SMB2 2.2.41). */
struct smb3_transform {
    const uint8_t *signature; /* 16 bytes: the AEAD tag */
    const uint8_t *nonce;     /* 16 bytes: 11 used by CCM, 12 by GCM */
    const uint8_t *aad;       /* the 32 bytes from the nonce to the end of the header */
    uint32_t original_size;
    uint16_t flags; /* 3.1.1 Flags; 3.0.x EncryptionAlgorithm: 1 either way */
    uint64_t session_id;
    const uint8_t *ciphertext; /* original_size bytes */
};

/* Parses msg[0, len) (from the 0xFD 'SMB' protocol id on); NULL or why it is malformed. */
const char *smb3_transform_parse(const uint8_t *msg, size_t len, struct smb3_transform *t);

/*
 * Decrypts t's ciphertext with direction dir's key into out (room for
 * t->original_size bytes), verifying the tag first: nothing of out may be
 * used unless this returns NULL. With keys->cipher NONE every cipher of the
 * key's length is tried; *used (may be NULL) says which one verified. Else
 * why not: "tag mismatch", "unsupported cipher ...".
 */
const char *smb3_decrypt(const struct smb3_keys *keys, int dir, const struct smb3_transform *t,
                         uint8_t *out, uint16_t *used);

/*
 * Cipher handles a caller keeps beside a session's keys, one per direction, so that a
 * message costs neither an allocation nor a key schedule: each is opened for the cipher
 * that first verified and reused (reset) after. Zero-initialised: none open. The handles
 * are libgcrypt's (which wipes a key schedule when it closes one).
 */
struct gcry_cipher_handle;
struct smb3_handles {
    struct gcry_cipher_handle *h[2];
    uint16_t cipher[2];
};
/* As smb3_decrypt, with the direction's handle of hs kept or reused. */
const char *smb3_decrypt_kept(const struct smb3_keys *keys, struct smb3_handles *hs, int dir,
                              const struct smb3_transform *t, uint8_t *out, uint16_t *used);
/* Closes the handles (none open is fine); hs is zeroed. */
void smb3_handles_close(struct smb3_handles *hs);

/* Encrypts plain into out (same length) and writes the tag into sig: for tests. */
bool smb3_encrypt(const uint8_t *key, size_t key_len, uint16_t cipher, const uint8_t nonce[16],
                  const uint8_t aad[32], const uint8_t *plain, size_t len, uint8_t *out,
                  uint8_t sig[16]);

void smb3_keys_wipe(struct smb3_keys *k);

#endif
