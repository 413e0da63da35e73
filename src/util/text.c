#include "rpcsentry/text.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t utf8_encode(uint32_t cp, char b[4])
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

void printable_copy(const uint8_t *p, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n && p[i] && o + 1 < outsz; i++)
        out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[o] = '\0';
}

/* Appends code point cp as UTF-8 if it fits in out[0..outsz-1) (one byte kept for NUL). */
static bool put_cp(uint32_t cp, char *out, size_t outsz, size_t *o)
{
    char b[4];
    size_t n = utf8_encode(cp, b);
    if (*o + n + 1 > outsz)
        return false;
    memcpy(out + *o, b, n);
    *o += n;
    return true;
}

size_t utf16_to_utf8(struct rd *c, size_t units, bool le, char *out, size_t outsz, bool *truncated)
{
    size_t o = 0;
    bool ended = false, full = false;
    if (truncated)
        *truncated = false;
    for (size_t i = 0; i < units && rd_ok(c); i++) {
        if (le && !ended && !full && outsz) {
            /* a run of ASCII, nearly every string: copied while units, bytes and room last */
            size_t k = units - i, avail = (c->len - c->off) / 2, room = outsz - 1 - o;
            k = k < avail ? k : avail;
            k = k < room ? k : room;
            const uint8_t *s = c->p + c->off;
            size_t j = 0;
#if defined(__SSE2__)
            /* eight units at a time: each one in 1..0x7f (signed compares: 0x8000 and up is
               below zero), packed to bytes */
            const __m128i zero = _mm_setzero_si128(), top = _mm_set1_epi16(0x80);
            for (; j + 8 <= k; j += 8) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * j));
                __m128i ok = _mm_and_si128(_mm_cmpgt_epi16(v, zero), _mm_cmplt_epi16(v, top));
                if (_mm_movemask_epi8(ok) != 0xffff)
                    break;
                _mm_storel_epi64((__m128i *)(void *)(out + o + j), _mm_packus_epi16(v, v));
            }
#endif
            while (j < k && s[2 * j + 1] == 0 && (uint8_t)(s[2 * j] - 1) < 0x7f) {
                out[o + j] = (char)s[2 * j];
                j++;
            }
            o += j, c->off += 2 * j, i += j;
            if (i >= units)
                break;
        }
        uint32_t u = rd_u16(c, le);
        if (!rd_ok(c))
            break;
        if (ended || full)
            continue;
        if (u == 0) {
            ended = true;
            continue;
        }
        uint32_t cp = u;
        if (u >= 0xd800 && u < 0xdc00) {
            /* a high surrogate needs a low one next */
            if (i + 1 < units && rd_has(c, 2)) {
                uint32_t b0 = rd_peek(c, 0), b1 = rd_peek(c, 1);
                uint32_t lo = le ? (b0 | b1 << 8) : (b0 << 8 | b1);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    rd_u16(c, le);
                    i++;
                    cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                } else {
                    cp = 0xfffd;
                }
            } else {
                cp = 0xfffd;
            }
        } else if (u >= 0xdc00 && u < 0xe000) {
            cp = 0xfffd;
        }
        if (!put_cp(cp, out, outsz, &o)) {
            full = true;
            if (truncated)
                *truncated = true;
        }
    }
    if (outsz)
        out[o] = '\0';
    return o;
}

size_t latin1_to_utf8(struct rd *c, size_t n, char *out, size_t outsz, bool *truncated)
{
    size_t o = 0;
    bool ended = false, full = false;
    if (truncated)
        *truncated = false;
    for (size_t i = 0; i < n && rd_ok(c); i++) {
        uint8_t ch = rd_u8(c);
        if (!rd_ok(c))
            break;
        if (ended || full)
            continue;
        if (ch == 0) {
            ended = true;
            continue;
        }
        if (!put_cp(ch, out, outsz, &o)) {
            full = true;
            if (truncated)
                *truncated = true;
        }
    }
    if (outsz)
        out[o] = '\0';
    return o;
}

/* "00" to "99": two digits per division */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                  "31323334353637383940414243444546474849505152535455565758596061"
                                  "62636465666768697071727374757677787980818283848586878889909192"
                                  "93949596979899";

/* Two digits of v (below 100). */
static char *two(char *o, unsigned v)
{
    memcpy(o, digit_pairs + 2 * v, 2);
    return o + 2;
}

void ts_format(uint64_t ts_us, char out[TS_STR_LEN])
{
    /* records come in bursts within one second: the date and time part is kept */
    static __thread uint64_t cached_sec = UINT64_MAX;
    static __thread char head[20]; /* "YYYY-MM-DDTHH:MM:SS" */
    uint64_t s = ts_us / 1000000;
    if (s != cached_sec) {
        /* the civil date of a day count (proleptic Gregorian, eras of 400 years), without
         * gmtime_r, which takes glibc's time zone lock, and snprintf */
        uint64_t days = s / 86400, sod = s % 86400;
        uint64_t z = days + 719468, era = z / 146097, doe = z % 146097;
        uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint64_t mp = (5 * doy + 2) / 153;
        unsigned day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
        unsigned month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
        /* years beyond 9999 do not occur in captures; clamp so the length is fixed */
        unsigned year = (unsigned)((yoe + era * 400 + (month <= 2)) % 10000);
        char *o = two(two(head, year / 100), year % 100);
        *o++ = '-';
        o = two(o, month);
        *o++ = '-';
        o = two(o, day);
        *o++ = 'T';
        o = two(o, (unsigned)(sod / 3600));
        *o++ = ':';
        o = two(o, (unsigned)(sod / 60 % 60));
        *o++ = ':';
        two(o, (unsigned)(sod % 60));
        cached_sec = s;
    }
    memcpy(out, head, 19);
    out[19] = '.';
    unsigned us = (unsigned)(ts_us % 1000000);
    for (int i = 25; i >= 20; i--, us /= 10)
        out[i] = (char)('0' + us % 10);
    memcpy(out + 26, "+0000", 6);
}

char *dec_u64(char *out, uint64_t v)
{
    static const uint64_t pow10[20] = {1,
                                       10,
                                       100,
                                       1000,
                                       10000,
                                       100000,
                                       1000000,
                                       10000000,
                                       100000000,
                                       1000000000,
                                       10000000000ULL,
                                       100000000000ULL,
                                       1000000000000ULL,
                                       10000000000000ULL,
                                       100000000000000ULL,
                                       1000000000000000ULL,
                                       10000000000000000ULL,
                                       100000000000000000ULL,
                                       1000000000000000000ULL,
                                       10000000000000000000ULL};
    int n = 1;
    while (n < 20 && v >= pow10[n])
        n++;
    char *o = out + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        o -= 2;
        memcpy(o, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        o -= 2;
        memcpy(o, digit_pairs + 2 * v, 2);
    } else {
        *--o = (char)('0' + v);
    }
    return out + n;
}

char *hex_u32(char *out, uint32_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < digits; i++)
        out[i] = hex[(v >> (4 * (digits - 1 - i))) & 15];
    return out + digits;
}

void hex32_str(char out[HEX32_STR_LEN], uint32_t v)
{
    out[0] = '0', out[1] = 'x';
    *hex_u32(out + 2, v, 8) = '\0';
}

void addr_format(const uint8_t *addr, int alen, char out[ADDR_STR_LEN])
{
    if (alen == 4) { /* by hand: glibc's inet_ntop formats IPv4 through sprintf */
        char *o = out;
        for (int i = 0; i < 4; i++) {
            if (i)
                *o++ = '.';
            o = dec_u64(o, addr[i]);
        }
        *o = '\0';
        return;
    }
    if (!inet_ntop(AF_INET6, addr, out, ADDR_STR_LEN))
        snprintf(out, ADDR_STR_LEN, "?");
}
