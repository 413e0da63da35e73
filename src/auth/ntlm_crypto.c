/*
 * NTLM session security (MS-NLMP 3.3.2, 3.4.3-3.4.5): the keys of an
 * exchange from an NT hash, and RC4 sealing with HMAC-MD5 signatures under
 * extended session security. Every hash and cipher is libgcrypt's.
 */
#include <gcrypt.h>
#include <string.h>

#include "auth_internal.h"
#include "rpcsentry/ntlmssp.h"

/* UPPER(user) as UTF-16LE (ASCII and Latin-1 letters), then the domain, into out. */
static size_t user_dom(const struct ntlmssp_msg *m, uint8_t *out, size_t cap)
{
    size_t k = 0;
    for (int part = 0; part < 2; part++) {
        const uint8_t *s = part ? m->domain : m->user;
        size_t n = part ? m->domain_len : m->user_len;
        size_t step = m->unicode ? 2 : 1;
        for (size_t i = 0; i + step <= n && k + 2 <= cap; i += step) {
            unsigned u = m->unicode ? (unsigned)(s[i] | s[i + 1] << 8) : s[i];
            if (!part && ((u >= 'a' && u <= 'z') || (u >= 0xe0 && u <= 0xfe && u != 0xf7)))
                u -= 0x20;
            out[k++] = (uint8_t)u;
            out[k++] = (uint8_t)(u >> 8);
        }
    }
    return k;
}

static const char c2s_sign[] = "session key to client-to-server signing key magic constant";
static const char s2c_sign[] = "session key to server-to-client signing key magic constant";
static const char c2s_seal[] = "session key to client-to-server sealing key magic constant";
static const char s2c_seal[] = "session key to server-to-client sealing key magic constant";

/* SIGNKEY and SEALKEY with extended session security (MS-NLMP 3.4.5.2, 3.4.5.3). */
static void direction_keys(struct ntlm_keys *k)
{
    size_t seal_len = (k->flags & NTLMSSP_F_128) ? 16 : (k->flags & NTLMSSP_F_56) ? 7 : 5;
    /* the constants are hashed with their terminating NUL */
    auth_md5(k->sign[0], k->exported, 16, c2s_sign, sizeof c2s_sign);
    auth_md5(k->sign[1], k->exported, 16, s2c_sign, sizeof s2c_sign);
    auth_md5(k->seal[0], k->exported, seal_len, c2s_seal, sizeof c2s_seal);
    auth_md5(k->seal[1], k->exported, seal_len, s2c_seal, sizeof s2c_seal);
}

const char *ntlm_derive_keys(const uint8_t nt_hash[16], const uint8_t server_challenge[8],
                             const struct ntlmssp_msg *a, uint32_t flags, struct ntlm_keys *k)
{
    memset(k, 0, sizeof *k);
    k->flags = flags;
    if (a->nt_len == 0)
        return "unsupported: anonymous logon (no NT response)";
    if (!(flags & NTLMSSP_F_ESS))
        return "unsupported: NTLM session security without extended session security";
    if (a->nt_len > 24) {
        /* NTLMv2: the response proves the key, so a wrong hash is told apart */
        if (a->nt_len < 16 + 28)
            return "malformed: NTLMv2 response too short";
        uint8_t ud[2 * 2 * 256], proof[16];
        size_t udn = user_dom(a, ud, sizeof ud);
        auth_hmac_md5(k->response_key_nt, nt_hash, 16, ud, udn, NULL, 0, NULL, 0);
        auth_hmac_md5(proof, k->response_key_nt, 16, server_challenge, 8, a->nt + 16,
                      a->nt_len - 16, NULL, 0);
        bool match = memcmp(proof, a->nt, 16) == 0;
        explicit_bzero(ud, sizeof ud);
        if (!match) {
            ntlm_keys_wipe(k);
            return "wrong key: the NTLMv2 response does not match it";
        }
        k->v2 = true;
        auth_hmac_md5(k->session_base_key, k->response_key_nt, 16, a->nt, 16, NULL, 0, NULL, 0);
        memcpy(k->key_exchange_key, k->session_base_key, 16);
    } else if (a->nt_len == 24) {
        /* NTLMv1 with extended session security (NTLM2 session response) */
        if (a->lm_len < 8)
            return "malformed: NTLMv1 without the client challenge";
        gcry_md_hash_buffer(GCRY_MD_MD4, k->session_base_key, nt_hash, 16);
        auth_hmac_md5(k->key_exchange_key, k->session_base_key, 16, server_challenge, 8, a->lm, 8,
                      NULL, 0);
    } else {
        return "malformed: NT response of an unknown length";
    }
    memcpy(k->exported, k->key_exchange_key, 16);
    if (flags & NTLMSSP_F_KEY_EXCH) {
        if (a->session_key_len != 16)
            return "malformed: key exchange without an EncryptedRandomSessionKey";
        memcpy(k->exported, a->session_key, 16);
        if (!auth_rc4(k->key_exchange_key, k->exported, 16))
            return "unsupported: libgcrypt refused RC4";
    }
    direction_keys(k);
    return NULL;
}

void ntlm_keys_wipe(struct ntlm_keys *k)
{
    explicit_bzero(k, sizeof *k);
}

bool ntlm_sealer_init(struct ntlm_sealer *s, const struct ntlm_keys *k)
{
    memset(s, 0, sizeof *s);
    for (int d = 0; d < 2; d++) {
        gcry_cipher_hd_t h;
        if (gcry_cipher_open(&h, GCRY_CIPHER_ARCFOUR, GCRY_CIPHER_MODE_STREAM, 0) ||
            (s->rc4[d] = h, gcry_cipher_setkey(h, k->seal[d], 16))) {
            ntlm_sealer_clear(s);
            return false;
        }
        memcpy(s->sign[d], k->sign[d], 16);
        memcpy(s->seal[d], k->seal[d], 16);
    }
    s->flags = k->flags;
    return true;
}

void ntlm_sealer_clear(struct ntlm_sealer *s)
{
    for (int d = 0; d < 2; d++)
        if (s->rc4[d])
            gcry_cipher_close(s->rc4[d]); /* libgcrypt wipes the key schedule */
    explicit_bzero(s, sizeof *s);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

/* The checksum (8 bytes) of MAC with ESS, before the RC4 of KEY_EXCH. */
static void checksum(const struct ntlm_sealer *s, int dir, const uint8_t seq[4], const uint8_t *m,
                     size_t n, uint8_t out[8])
{
    uint8_t h[16];
    auth_hmac_md5(h, s->sign[dir], 16, seq, 4, m, n, NULL, 0);
    memcpy(out, h, 8);
    explicit_bzero(h, sizeof h);
}

void ntlm_seal(struct ntlm_sealer *s, int dir, uint8_t *msg, size_t len, size_t soff, size_t slen,
               uint32_t seq, uint8_t sig[16])
{
    uint8_t seqb[4], sum[8];
    put_u32le(seqb, seq);
    checksum(s, dir, seqb, msg, len, sum);
    gcry_cipher_encrypt(s->rc4[dir], msg + soff, slen, NULL, 0);
    if (s->flags & NTLMSSP_F_KEY_EXCH)
        gcry_cipher_encrypt(s->rc4[dir], sum, 8, NULL, 0);
    put_u32le(sig, 1);
    memcpy(sig + 4, sum, 8);
    memcpy(sig + 12, seqb, 4);
}

int ntlm_unseal(struct ntlm_sealer *s, int dir, uint8_t *msg, size_t len, size_t soff, size_t slen,
                const uint8_t sig[16])
{
    gcry_cipher_decrypt(s->rc4[dir], msg + soff, slen, NULL, 0);
    uint8_t want[8], got[8];
    memcpy(got, sig + 4, 8);
    if (s->flags & NTLMSSP_F_KEY_EXCH)
        gcry_cipher_decrypt(s->rc4[dir], got, 8, NULL, 0);
    if (sig[0] != 1 || sig[1] || sig[2] || sig[3])
        return 0;
    checksum(s, dir, sig + 12, msg, len, want);
    if (memcmp(want, got, 8) == 0)
        return 1;
    if (soff == 0 && slen == len)
        return 0;
    checksum(s, dir, sig + 12, msg + soff, slen, want);
    return memcmp(want, got, 8) == 0 ? 2 : 0;
}

bool ntlm_sealer_reset(struct ntlm_sealer *s)
{
    for (int d = 0; d < 2; d++)
        if (gcry_cipher_setkey(s->rc4[d], s->seal[d], 16))
            return false;
    return true;
}

void ntlm_sealer_skip(struct ntlm_sealer *s, int dir)
{
    uint8_t z[8] = {0};
    if (s->flags & NTLMSSP_F_KEY_EXCH)
        gcry_cipher_encrypt(s->rc4[dir], z, sizeof z, NULL, 0);
}
