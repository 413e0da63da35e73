/*
 * SMB 3 key derivation and TRANSFORM_HEADER decryption (include/rpcsentry/smb3.h).
 * Every hash, MAC and cipher is libgcrypt's.
 */
#include <gcrypt.h>
#include <string.h>

#include "rpcsentry/cursor.h"
#include "rpcsentry/smb3.h"

const char *smb3_cipher_name(uint16_t cipher)
{
    switch (cipher) {
    case SMB3_AES_128_CCM: return "AES-128-CCM";
    case SMB3_AES_128_GCM: return "AES-128-GCM";
    case SMB3_AES_256_CCM: return "AES-256-CCM";
    case SMB3_AES_256_GCM: return "AES-256-GCM";
    default: return NULL;
    }
}

size_t smb3_cipher_key_len(uint16_t cipher)
{
    switch (cipher) {
    case SMB3_AES_128_CCM:
    case SMB3_AES_128_GCM: return 16;
    case SMB3_AES_256_CCM:
    case SMB3_AES_256_GCM: return 32;
    default: return 0;
    }
}

static bool is_gcm(uint16_t cipher)
{
    return cipher == SMB3_AES_128_GCM || cipher == SMB3_AES_256_GCM;
}

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

void smb3_kdf(const uint8_t *key, size_t key_len, const void *label, size_t label_len,
              const void *context, size_t context_len, unsigned l_bits, uint8_t *out)
{
    uint8_t i[4], l[4], sep = 0, prf[32];
    put_u32be(i, 1); /* one block: L is at most 256, HMAC-SHA256's output */
    put_u32be(l, l_bits);
    gcry_buffer_t iov[6] = {{0, 0, key_len, (void *)key},         {0, 0, 4, i},
                            {0, 0, label_len, (void *)label},     {0, 0, 1, &sep},
                            {0, 0, context_len, (void *)context}, {0, 0, 4, l}};
    /* with GCRY_MD_FLAG_HMAC, the first buffer is the key */
    gcry_md_hash_buffers(GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC, prf, iov, 6);
    memcpy(out, prf, l_bits / 8);
    explicit_bzero(prf, sizeof prf);
}

void smb3_preauth_update(uint8_t h[SMB3_PREAUTH_LEN], const uint8_t *msg, size_t len)
{
    uint8_t out[SMB3_PREAUTH_LEN];
    gcry_buffer_t iov[2] = {{0, 0, SMB3_PREAUTH_LEN, h}, {0, 0, len, (void *)msg}};
    gcry_md_hash_buffers(GCRY_MD_SHA512, 0, out, iov, 2);
    memcpy(h, out, sizeof out);
}

void smb3_keys_wipe(struct smb3_keys *k)
{
    explicit_bzero(k, sizeof *k);
}

const char *smb3_derive(const uint8_t *session_key, size_t sk_len, uint16_t dialect,
                        uint16_t cipher, const uint8_t *preauth, struct smb3_keys *out)
{
    memset(out, 0, sizeof *out);
    if (dialect != 0x0300 && dialect != 0x0302 && dialect != 0x0311)
        return "unsupported: no SMB 3 encryption in this dialect";
    size_t klen = smb3_cipher_key_len(cipher);
    if (!klen)
        return "unsupported cipher";
    if (dialect != 0x0311 && cipher != SMB3_AES_128_CCM)
        return "unsupported cipher for SMB 3.0.x";
    if (!sk_len)
        return "no session key";
    /* Session.SessionKey: the first 16 bytes, zero-padded; 256-bit ciphers take the
       whole key (Session.FullSessionKey) */
    uint8_t k[SMB3_KEY_MAX] = {0};
    size_t kin = 16;
    if (klen == 32 && sk_len > 16)
        kin = sk_len > SMB3_KEY_MAX ? SMB3_KEY_MAX : sk_len;
    memcpy(k, session_key, sk_len < kin ? sk_len : kin);
    unsigned l_bits = (unsigned)klen * 8;
    if (dialect == 0x0311) {
        if (!preauth) {
            explicit_bzero(k, sizeof k);
            return "the pre-authentication hash of the session is not known (its NEGOTIATE "
                   "or SESSION_SETUP was not seen)";
        }
        static const char c2s[] = "SMBC2SCipherKey", s2c[] = "SMBS2CCipherKey";
        smb3_kdf(k, kin, c2s, sizeof c2s, preauth, SMB3_PREAUTH_LEN, l_bits, out->dir[0]);
        smb3_kdf(k, kin, s2c, sizeof s2c, preauth, SMB3_PREAUTH_LEN, l_bits, out->dir[1]);
    } else {
        static const char label[] = "SMB2AESCCM", in[] = "ServerIn ", outc[] = "ServerOut";
        smb3_kdf(k, kin, label, sizeof label, in, sizeof in, l_bits, out->dir[0]);
        smb3_kdf(k, kin, label, sizeof label, outc, sizeof outc, l_bits, out->dir[1]);
    }
    explicit_bzero(k, sizeof k);
    out->cipher = cipher;
    out->key_len = (uint8_t)klen;
    return NULL;
}

const char *smb3_transform_parse(const uint8_t *msg, size_t len, struct smb3_transform *t)
{
    memset(t, 0, sizeof *t);
    struct rd c = rd_init(msg, len);
    if (rd_u8(&c) != 0xfd || rd_u8(&c) != 'S' || rd_u8(&c) != 'M' || rd_u8(&c) != 'B')
        return "not a TRANSFORM_HEADER";
    t->signature = rd_take(&c, 16);
    t->nonce = rd_take(&c, 16);
    t->original_size = rd_u32le(&c);
    rd_skip(&c, 2);
    t->flags = rd_u16le(&c);
    t->session_id = rd_u64le(&c);
    if (!rd_ok(&c))
        return "malformed: TRANSFORM_HEADER cut short";
    t->aad = t->nonce;
    if (t->original_size == 0)
        return "malformed: TRANSFORM_HEADER of an empty message";
    if (t->original_size != len - SMB3_TRANSFORM_LEN)
        return "malformed: OriginalMessageSize is not the size of what follows the header";
    t->ciphertext = rd_take(&c, t->original_size);
    return t->ciphertext ? NULL : "malformed: TRANSFORM_HEADER cut short";
}

/* One AEAD attempt: 0 when the tag verifies, else a libgcrypt error. With hs, the
 * direction's handle is reused when it was opened for this cipher (reset, the key
 * schedule kept), else opened here and kept. */
static gcry_error_t aead(const uint8_t *key, size_t key_len, uint16_t cipher, bool decrypt,
                         const uint8_t nonce[16], const uint8_t aad[32], const uint8_t *in,
                         size_t len, uint8_t *out, uint8_t tag[16], struct smb3_handles *hs,
                         int dir)
{
    gcry_cipher_hd_t h = NULL;
    gcry_error_t e = 0;
    bool kept = hs && hs->h[dir] && hs->cipher[dir] == cipher;
    if (kept) {
        h = hs->h[dir];
        e = gcry_cipher_reset(h);
    } else {
        int algo = key_len == 32 ? GCRY_CIPHER_AES256 : GCRY_CIPHER_AES128;
        int mode = is_gcm(cipher) ? GCRY_CIPHER_MODE_GCM : GCRY_CIPHER_MODE_CCM;
        if ((e = gcry_cipher_open(&h, algo, mode, 0)))
            return e;
        e = gcry_cipher_setkey(h, key, key_len);
    }
    if (!e)
        e = gcry_cipher_setiv(h, nonce, is_gcm(cipher) ? 12 : 11);
    if (!e && !is_gcm(cipher)) {
        uint64_t lengths[3] = {len, 32, 16}; /* message, AAD, tag */
        e = gcry_cipher_ctl(h, GCRYCTL_SET_CCM_LENGTHS, lengths, sizeof lengths);
    }
    if (!e)
        e = gcry_cipher_authenticate(h, aad, 32);
    if (!e)
        e = decrypt ? gcry_cipher_decrypt(h, out, len, in, len)
                    : gcry_cipher_encrypt(h, out, len, in, len);
    if (!e)
        e = decrypt ? gcry_cipher_checktag(h, tag, 16) : gcry_cipher_gettag(h, tag, 16);
    if (kept)
        return e;
    if (hs && !e) { /* this cipher verified: its handle serves the next messages */
        if (hs->h[dir])
            gcry_cipher_close(hs->h[dir]);
        hs->h[dir] = h;
        hs->cipher[dir] = cipher;
        return e;
    }
    gcry_cipher_close(h); /* libgcrypt wipes the key schedule */
    return e;
}

void smb3_handles_close(struct smb3_handles *hs)
{
    for (int d = 0; d < 2; d++)
        if (hs->h[d])
            gcry_cipher_close(hs->h[d]);
    memset(hs, 0, sizeof *hs);
}

const char *smb3_decrypt_kept(const struct smb3_keys *keys, struct smb3_handles *hs, int dir,
                              const struct smb3_transform *t, uint8_t *out, uint16_t *used)
{
    uint16_t tries[2];
    size_t n = 0;
    if (keys->cipher != SMB3_CIPHER_NONE) {
        if (smb3_cipher_key_len(keys->cipher) != keys->key_len)
            return "unsupported cipher";
        tries[n++] = keys->cipher;
    } else if (keys->key_len == 16) {
        tries[n++] = SMB3_AES_128_CCM;
        tries[n++] = SMB3_AES_128_GCM;
    } else if (keys->key_len == 32) {
        tries[n++] = SMB3_AES_256_GCM;
        tries[n++] = SMB3_AES_256_CCM;
    } else {
        return "unsupported key length";
    }
    dir &= 1;
    uint8_t tag[16];
    memcpy(tag, t->signature, 16);
    for (size_t i = 0; i < n; i++) {
        gcry_error_t e = aead(keys->dir[dir], keys->key_len, tries[i], true, t->nonce, t->aad,
                              t->ciphertext, t->original_size, out, tag, hs, dir);
        if (!e) {
            if (used)
                *used = tries[i];
            return NULL;
        }
        if (gcry_err_code(e) != GPG_ERR_CHECKSUM) {
            explicit_bzero(out, t->original_size);
            return "unsupported: libgcrypt refused the cipher";
        }
    }
    explicit_bzero(out, t->original_size); /* nothing unverified is left behind */
    return "tag mismatch: the message does not verify with the session's keys";
}

const char *smb3_decrypt(const struct smb3_keys *keys, int dir, const struct smb3_transform *t,
                         uint8_t *out, uint16_t *used)
{
    return smb3_decrypt_kept(keys, NULL, dir, t, out, used);
}

bool smb3_encrypt(const uint8_t *key, size_t key_len, uint16_t cipher, const uint8_t nonce[16],
                  const uint8_t aad[32], const uint8_t *plain, size_t len, uint8_t *out,
                  uint8_t sig[16])
{
    if (smb3_cipher_key_len(cipher) != key_len)
        return false;
    return aead(key, key_len, cipher, false, nonce, aad, plain, len, out, sig, NULL, 0) == 0;
}
