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
    KEYS_NT_HASH, /* an account's NT hash (MD4 of its UTF-16LE password) */
    /* later: KEYS_KRB5 (keytab entry), KEYS_SMB3_SESSION */
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
 * The store of a run: libgcrypt made ready, then every --ntlm-secrets file
 * (paths[0..n)) loaded. NULL with err when one cannot be (or out of memory).
 */
struct keystore *keys_load_files(const char *const *paths, size_t n, char *err, size_t errlen);

/* Zeroes every key, then frees the store. NULL is fine. */
void keys_free(struct keystore *ks);

#endif
