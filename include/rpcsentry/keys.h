/*
 * keys: the operator's key material (DESIGN.md: one store that hands keys to
 * the SMB and DCE/RPC engines). Loaded once before capture, then shared
 * read-only by every worker. Today it holds NT hashes (--ntlm-secrets);
 * each entry has a kind so that Kerberos keytab entries (principal, kvno,
 * enctype) and SMB 3 session keys can sit beside them later.
 *
 * Nothing here prints a key: errors name the file and line, never the line's
 * text. keys_free() zeroes every key before the memory goes back.
 */
#ifndef RPCSENTRY_KEYS_H
#define RPCSENTRY_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_NT_HASH_LEN 16

enum keys_kind {
    KEYS_NT_HASH,      /* an account's NT hash (MD4 of its UTF-16LE password) */
    KEYS_SMB3_SESSION, /* an SMB 3 session's key, and maybe its direction keys (--smb-keys) */
    /* later: KEYS_KRB5 (keytab entry) */
};

struct keystore;

/*
 * Makes libgcrypt ready for the engines (version check, no FIPS-only
 * restriction needed for MD4/RC4, initialisation finished). Call once before
 * any thread uses it; again is harmless. False with err when it cannot be.
 */
bool keys_crypto_init(char *err, size_t errlen);

/* An empty store, or NULL when out of memory. */
struct keystore *keys_new(void);

/*
 * Adds the accounts of an --ntlm-secrets file: one a line,
 * `[DOMAIN\]user:rid:LMHASH:NTHASH:::` (secretsdump, pwdump) or
 * `[DOMAIN\]user:NTHASH`; `#` comments and blank lines. Refuses a file that
 * group or others may read or write (as ssh does) and a malformed line
 * ("FILE:LINE: ..." in err, never the hash). False: nothing of the file is kept.
 */
bool keys_load_ntlm(struct keystore *ks, const char *path, char *err, size_t errlen);

/* Adds one account (domain NULL or "": any domain). False when out of memory. */
bool keys_add_nt_hash(struct keystore *ks, const char *domain, const char *user,
                      const uint8_t hash[KEYS_NT_HASH_LEN]);

/* Entries of the store (all kinds). */
size_t keys_count(const struct keystore *ks);

/*
 * Calls fn with each NT hash that may be domain\user's, in the order loaded
 * (user and domain compared without case; an entry without a domain matches
 * any) until fn returns true. Returns how many entries named the account.
 */
typedef bool (*keys_nt_fn)(const uint8_t hash[KEYS_NT_HASH_LEN], void *ctx);
size_t keys_nt_for_each(const struct keystore *ks, const char *domain, const char *user,
                        keys_nt_fn fn, void *ctx);

/* The NT hash of a UTF-8 password (MD4 of its UTF-16LE form): for tests and tools. */
bool keys_nt_hash_of_password(const char *password, uint8_t out[KEYS_NT_HASH_LEN]);

/*
 * An SMB 3 session's keys (--smb-keys), as Wireshark's smb2_seskey_list takes them:
 * the session key (up to 32 bytes: the full key for AES-256), and optionally the
 * server-to-client and client-to-server keys (16 or 32 bytes each), which then
 * serve as they are. dir_len 0: none given.
 */
#define KEYS_SMB3_MAX 32
struct keys_smb3 {
    uint64_t session_id;
    uint8_t session_key[KEYS_SMB3_MAX];
    uint8_t s2c[KEYS_SMB3_MAX], c2s[KEYS_SMB3_MAX];
    uint8_t session_key_len, dir_len;
};

/*
 * Adds the sessions of an --smb-keys file: one a line,
 * `SESSIONID:SESSIONKEY[:S2C:C2S]` in hex (the session id as Wireshark's UAT
 * writes it: its 8 bytes as on the wire, little-endian first; `0x` and 16
 * digits read as a number); `#` comments and blank lines. The file's rules
 * are keys_load_ntlm's: refused when group or others may read or write it, a
 * malformed line named by file and line only.
 */
bool keys_load_smb(struct keystore *ks, const char *path, char *err, size_t errlen);

/* Adds one session's keys. False when out of memory or a length is wrong. */
bool keys_add_smb3(struct keystore *ks, const struct keys_smb3 *k);

/* Copies the keys the store holds for session id into out (the caller wipes it);
 * false when it holds none. */
bool keys_smb3_find(const struct keystore *ks, uint64_t session_id, struct keys_smb3 *out);

/*
 * The store of a run: libgcrypt made ready, then every --ntlm-secrets file
 * (paths[0..n)) loaded. NULL with err when one cannot be (or out of memory).
 */
struct keystore *keys_load_files(const char *const *paths, size_t n, char *err, size_t errlen);

/* Zeroes every key, then frees the store. NULL is fine. */
void keys_free(struct keystore *ks);

#endif
