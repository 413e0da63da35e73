#include "rpcsentry/hash.h"

#include <stdbool.h>
#include <string.h>

#include <nettle/sha1.h>

/* SHA-1 for Community ID: nettle's (the project writes no crypto of its own) */
void sha1(const void *data, size_t len, uint8_t out[SHA1_LEN])
{
    struct sha1_ctx ctx;
    sha1_init(&ctx);
    sha1_update(&ctx, len, data);
    sha1_digest(&ctx, SHA1_LEN, out);
}

size_t base64_encode(const uint8_t *in, size_t len, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18], out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63], out[o++] = tbl[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = tbl[v >> 18], out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* ---- keyed 64-bit hash: 8-byte lanes mixed with multiply-xorshift ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

uint64_t hash64(const void *key, size_t len, uint64_t seed)
{
    const uint8_t *p = key;
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (len + 1));
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = mix64(h ^ v) + 0x9e3779b97f4a7c15ULL;
        p += 8, len -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, p, len);
    return mix64(h ^ v ^ ((uint64_t)len << 56));
}

/*
 * The flow key's hash, on every packet: its five words each multiplied by a
 * constant of its own (the 128-bit product's halves folded together: every bit
 * of the word reaches every bit of the result), the five independent of each
 * other so that the processor computes them side by side, then the sum
 * finished as above. hash64's lanes are one chain of multiplications, three
 * times as long; where a packet's flow lives depends only on this hash, never
 * what a record says.
 */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t hash_words5(const void *key, uint64_t seed)
{
    uint64_t v[5];
    memcpy(v, key, sizeof v);
    uint64_t a = fold_mul(v[0] ^ seed, 0xa0761d6478bd642fULL);
    uint64_t b = fold_mul(v[1] ^ seed, 0xe7037ed1a0b428dbULL);
    uint64_t c = fold_mul(v[2] ^ seed, 0x8ebc6af09c88c6e3ULL);
    uint64_t d = fold_mul(v[3] ^ seed, 0x589965cc75374cc3ULL);
    uint64_t e = fold_mul(v[4] ^ seed, 0x1d8e4e27c47d124fULL);
    return mix64((a + b) ^ (c + d) ^ e);
}

/* ---- Community ID v1 ---- */

/* ICMP types that come in request/reply pairs map to their counterpart. */
static bool icmp_counterpart(uint8_t proto, uint16_t type, uint16_t *peer)
{
    static const uint8_t v4[][2] = {{8, 0},   {0, 8},  {13, 14}, {14, 13}, {15, 16},
                                    {16, 15}, {10, 9}, {9, 10},  {17, 18}, {18, 17}};
    static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133}, {135, 136},
                                    {136, 135}, {130, 131}, {131, 130}, {144, 145}, {145, 144}};
    const uint8_t(*m)[2] = proto == 1 ? v4 : v6;
    size_t n = proto == 1 ? sizeof v4 / sizeof v4[0] : sizeof v6 / sizeof v6[0];
    for (size_t i = 0; i < n; i++)
        if (m[i][0] == type) {
            *peer = m[i][1];
            return true;
        }
    return false;
}

void community_id_v1(uint16_t seed, const uint8_t *saddr, const uint8_t *daddr, size_t alen,
                     uint8_t proto, uint16_t sport, uint16_t dport, char out[COMMUNITY_ID_LEN])
{
    bool has_ports = proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
    bool one_way = false;
    if (proto == 1 || proto == 58) {
        uint16_t peer;
        if (icmp_counterpart(proto, sport, &peer))
            dport = peer;
        else
            one_way = true;
    }
    int cmp = memcmp(saddr, daddr, alen);
    bool swap = !one_way && (cmp > 0 || (cmp == 0 && has_ports && sport > dport));
    if (swap) {
        const uint8_t *ta = saddr;
        saddr = daddr, daddr = ta;
        uint16_t tp = sport;
        sport = dport, dport = tp;
    }
    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8), buf[n++] = (uint8_t)seed;
    memcpy(buf + n, saddr, alen), n += alen;
    memcpy(buf + n, daddr, alen), n += alen;
    buf[n++] = proto, buf[n++] = 0;
    if (has_ports) {
        buf[n++] = (uint8_t)(sport >> 8), buf[n++] = (uint8_t)sport;
        buf[n++] = (uint8_t)(dport >> 8), buf[n++] = (uint8_t)dport;
    }
    uint8_t dig[SHA1_LEN];
    sha1(buf, n, dig);
    out[0] = '1', out[1] = ':';
    base64_encode(dig, SHA1_LEN, out + 2);
}
