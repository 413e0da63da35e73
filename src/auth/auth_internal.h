/*
 * What the mechanisms of src/auth share, private to the stage: a bounded
 * DER reader (one-octet tags: GSS-API, SPNEGO and Kerberos need no more)
 * and the few libgcrypt primitives both NTLMSSP and rc4-hmac Kerberos are
 * made of.
 */
#ifndef RPCSENTRY_AUTH_INTERNAL_H
#define RPCSENTRY_AUTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/cursor.h"

/* One TLV from c: its tag and its value (a cursor over it); false when malformed or cut. */
static inline bool der_next(struct rd *c, uint8_t *tag, struct rd *val)
{
    *tag = rd_u8(c);
    uint8_t b = rd_u8(c);
    size_t n = b;
    if (b & 0x80) {
        unsigned k = b & 0x7f;
        if (k == 0 || k > 3)
            return false;
        n = 0;
        for (unsigned i = 0; i < k; i++)
            n = n << 8 | rd_u8(c);
    }
    if (!rd_ok(c) || n > rd_left(c))
        return false;
    *val = rd_sub(c, n);
    return rd_ok(c);
}

/* The value of the next TLV, which must carry tag. */
static inline bool der_expect(struct rd *c, uint8_t tag, struct rd *val)
{
    uint8_t t;
    return der_next(c, &t, val) && t == tag;
}

/* MD5(a || b). */
void auth_md5(uint8_t out[16], const void *a, size_t alen, const void *b, size_t blen);
/* HMAC-MD5(key, a || b || c); absent parts have length 0. */
void auth_hmac_md5(uint8_t out[16], const uint8_t *key, size_t klen, const void *a, size_t alen,
                   const void *b, size_t blen, const void *c, size_t clen);
/* RC4 of n bytes with a fresh stream keyed with key (16 bytes), in place. */
bool auth_rc4(const uint8_t key[16], uint8_t *buf, size_t n);

#endif
