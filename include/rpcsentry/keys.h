/*
 * keys: the operator's key material (DESIGN.md: one store that hands keys to
 * the SMB and DCE/RPC engines). Loaded once before capture, then shared
 * read-only by every worker. It holds NT hashes (--ntlm-secrets) and
 * Kerberos keys (--keytab: principal, kvno, enctype, key); each entry has a
 * kind, so that SMB 3 session keys can sit beside them.
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
#define KEYS_KEY_MAX 64 /* the longest key of any kind (aes256-cts-hmac-sha384-192: 32) */

enum keys_kind {
    KEYS_NT_HASH,      /* an account's NT hash (MD4 of its UTF-16LE password) */
    KEYS_KRB5,         /* a keytab entry: a service principal's long-term key */
    KEYS_SMB3_SESSION, /* an SMB 3 session's key, and maybe its direction keys (--smb-keys) */
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

/*
 * Adds every entry of a keytab (MIT's format, read by MIT krb5: principal,
 * kvno, enctype and key of each). Refuses a file that group or others may
 * read or write, as keys_load_ntlm does. False with err: nothing of it is kept.
 */
bool keys_load_keytab(struct keystore *ks, const char *path, char *err, size_t errlen);

/* Adds one Kerberos key. False when out of memory or the key is longer than KEYS_KEY_MAX. */
bool keys_add_krb5(struct keystore *ks, const char *principal, uint32_t kvno, int32_t enctype,
                   const uint8_t *key, size_t len);

/* One Kerberos key as keys_krb5_for_each hands it (valid during the call only). */
struct keys_krb5 {
    const char *principal; /* "name/instance@REALM" as the keytab spells it */
    uint32_t kvno;
    int32_t enctype;
    const uint8_t *key;
    size_t len;
};

/*
 * Calls fn with each Kerberos key of that enctype, those of kvno first (a
 * ticket names the kvno its server key had; a keytab may hold older ones),
 * until fn returns true. Returns how many keys of the enctype there are.
 */
typedef bool (*keys_krb5_fn)(const struct keys_krb5 *k, void *ctx);
size_t keys_krb5_for_each(const struct keystore *ks, int32_t enctype, uint32_t kvno,
                          keys_krb5_fn fn, void *ctx);

/* How many entries of a kind the store holds. */
size_t keys_count_kind(const struct keystore *ks, enum keys_kind kind);

/* The NT hash of a UTF-8 password (MD4 of its UTF-16LE form): for tests and tools. */
bool keys_nt_hash_of_password(const char *password, uint8_t out[KEYS_NT_HASH_LEN]);

/* The files of a run's keys. */
struct keys_files {
    const char *const *ntlm; /* --ntlm-secrets */
    size_t n_ntlm;
    const char *const *keytab; /* --keytab */
    size_t n_keytab;
    const char *const *smb; /* --smb-keys */
    size_t n_smb;
};

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
 * The store of a run: libgcrypt made ready, then every file of f loaded.
 * NULL with err (which names the option and the file) when one cannot be.
 */
struct keystore *keys_load_files(const struct keys_files *f, char *err, size_t errlen);

/* Zeroes every key, then frees the store. NULL is fine. */
void keys_free(struct keystore *ks);

#endif
