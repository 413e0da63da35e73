/*
 * The SMB transport with a key store: the SMB 3 paths (the NTLMSSP of SESSION_SETUP
 * followed for its session key, the 3.1.1 pre-authentication hash, TRANSFORM_HEADER
 * parsing and decryption, the plaintext parsed as SMB2). The store holds the NT hash
 * of the lab's account (Passw0rd!: the seeds from pcaps/lab/smb3_encrypted_* decrypt)
 * and operator keys for sessions 1 (a session key) and 2 (direction keys). Input as
 * fuzz_smb: chunks of [ctl][len16] bytes.
 */
#include "fuzz_common.h"
#include "rpcsentry/keys.h"

static struct keystore *fuzz_keys(void)
{
    static struct keystore *ks;
    if (ks)
        return ks;
    char err[256];
    if (!keys_crypto_init(err, sizeof err) || !(ks = keys_new()))
        abort();
    uint8_t nt[KEYS_NT_HASH_LEN];
    if (!keys_nt_hash_of_password("Passw0rd!", nt) ||
        !keys_add_nt_hash(ks, NULL, "Administrator", nt))
        abort();
    struct keys_smb3 k = {.session_id = 1, .session_key_len = 16};
    memset(k.session_key, 0x11, sizeof k.session_key);
    if (!keys_add_smb3(ks, &k))
        abort();
    k.session_id = 2;
    k.dir_len = 16;
    memset(k.s2c, 0x22, sizeof k.s2c);
    memset(k.c2s, 0x33, sizeof k.c2s);
    if (!keys_add_smb3(ks, &k))
        abort();
    return ks;
}

/* fuzz_smb's run, the store set first */
#define FUZZ_SMB_SETUP() (fuzz_cfg.keys = fuzz_keys())
#include "fuzz_smb.c"
