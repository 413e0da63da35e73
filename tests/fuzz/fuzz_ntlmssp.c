/*
 * NTLMSSP (raw or inside SPNEGO) on arbitrary bytes: the names read must be
 * terminated and every field handed out must lie inside the input. An
 * AUTHENTICATE is then put through the key derivation with a fixed NT hash
 * (and, when it fits, the unsealing of the rest of the input); and any input
 * sealed with fixed keys must unseal to itself with its signature verified,
 * while the same bytes with one changed must not verify.
 */
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/keys.h"
#include "rpcsentry/ntlmssp.h"

static void inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n)
{
    if (n && (!p || p < data || p + n > data + size))
        abort();
}

static const uint8_t hash[16] = {0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca,
                                 0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8, 0x52};
static const uint8_t challenge[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

/* Fixed keys: seal with one state, unseal with another; the plaintext must come back. */
static void round_trip(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096)
        return;
    struct ntlm_keys k;
    memset(&k, 0, sizeof k);
    k.flags = NTLMSSP_F_ESS | NTLMSSP_F_128 | (data[0] & 1 ? NTLMSSP_F_KEY_EXCH : 0);
    for (int i = 0; i < 16; i++)
        k.seal[0][i] = (uint8_t)i, k.seal[1][i] = (uint8_t)(i * 3), k.sign[0][i] = (uint8_t)~i,
        k.sign[1][i] = (uint8_t)(i + 7);
    int dir = data[0] >> 1 & 1;
    size_t soff = data[1] % size, slen = (size - soff) / 2;
    uint8_t *m = malloc(size), *orig = malloc(size);
    struct ntlm_sealer tx, rx;
    if (!m || !orig || !ntlm_sealer_init(&tx, &k)) {
        free(m), free(orig);
        return;
    }
    if (!ntlm_sealer_init(&rx, &k)) {
        ntlm_sealer_clear(&tx);
        free(m), free(orig);
        return;
    }
    memcpy(m, data, size);
    memcpy(orig, data, size);
    uint8_t sig[16];
    ntlm_seal(&tx, dir, m, size, soff, slen, 7, sig);
    if (ntlm_unseal(&rx, dir, m, size, soff, slen, sig) != 1 || memcmp(m, orig, size) != 0)
        abort();
    /* the next message, changed by one bit after sealing, must not verify */
    ntlm_seal(&tx, dir, m, size, soff, slen, 8, sig);
    m[size - 1] ^= 0x10;
    if (ntlm_unseal(&rx, dir, m, size, soff, slen, sig) != 0)
        abort();
    ntlm_sealer_clear(&tx);
    ntlm_sealer_clear(&rx);
    free(m);
    free(orig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        char err[256];
        if (!keys_crypto_init(err, sizeof err))
            abort();
        ready = 1;
    }
    struct rpc_identity id;
    ntlmssp_parse(data, size, &id);
    if (memchr(id.user, 0, sizeof id.user) == NULL ||
        memchr(id.domain, 0, sizeof id.domain) == NULL ||
        memchr(id.host, 0, sizeof id.host) == NULL)
        abort();

    struct ntlmssp_msg m;
    if (ntlmssp_parse_msg(data, size, &m) == NTLMSSP_AUTHENTICATE) {
        inside(data, size, m.lm, m.lm_len);
        inside(data, size, m.nt, m.nt_len);
        inside(data, size, m.domain, m.domain_len);
        inside(data, size, m.user, m.user_len);
        inside(data, size, m.session_key, m.session_key_len);
        struct ntlm_keys k;
        if (!ntlm_derive_keys(hash, challenge, &m, m.flags | NTLMSSP_F_ESS, &k) && size > 16) {
            struct ntlm_sealer s;
            uint8_t *copy = malloc(size);
            if (copy && ntlm_sealer_init(&s, &k)) {
                memcpy(copy, data, size);
                ntlm_unseal(&s, 1, copy, size - 16, 0, (size - 16) / 2, data + size - 16);
                ntlm_sealer_clear(&s);
            }
            free(copy);
        }
        ntlm_keys_wipe(&k);
    }
    round_trip(data, size);
    return 0;
}
