/* The primitives src/auth's mechanisms share (auth_internal.h), libgcrypt's. */
#include <gcrypt.h>

#include "auth_internal.h"

void auth_md5(uint8_t out[16], const void *a, size_t alen, const void *b, size_t blen)
{
    gcry_buffer_t iov[2] = {{0, 0, alen, (void *)a}, {0, 0, blen, (void *)b}};
    gcry_md_hash_buffers(GCRY_MD_MD5, 0, out, iov, 2);
}

void auth_hmac_md5(uint8_t out[16], const uint8_t *key, size_t klen, const void *a, size_t alen,
                   const void *b, size_t blen, const void *c, size_t clen)
{
    gcry_buffer_t iov[4] = {{0, 0, klen, (void *)key},
                            {0, 0, alen, (void *)a},
                            {0, 0, blen, (void *)b},
                            {0, 0, clen, (void *)c}};
    /* with GCRY_MD_FLAG_HMAC, the first buffer is the key */
    gcry_md_hash_buffers(GCRY_MD_MD5, GCRY_MD_FLAG_HMAC, out, iov, 4);
}

bool auth_rc4(const uint8_t key[16], uint8_t *buf, size_t n)
{
    gcry_cipher_hd_t h;
    if (gcry_cipher_open(&h, GCRY_CIPHER_ARCFOUR, GCRY_CIPHER_MODE_STREAM, 0))
        return false;
    bool ok = !gcry_cipher_setkey(h, key, 16) && !gcry_cipher_decrypt(h, buf, n, NULL, 0);
    gcry_cipher_close(h);
    return ok;
}
