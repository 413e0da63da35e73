#include "rpcsentry/text.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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

void ts_format(uint64_t ts_us, char out[TS_STR_LEN])
{
    /* records come in bursts within one second: the date and time part is kept */
    static __thread uint64_t cached_sec = UINT64_MAX;
    static __thread char head[20]; /* "YYYY-MM-DDTHH:MM:SS" */
    uint64_t s = ts_us / 1000000;
    if (s != cached_sec) {
        time_t sec = (time_t)s;
        struct tm tm;
        gmtime_r(&sec, &tm);
        /* years beyond 9999 do not occur in captures; clamp so the length is fixed */
        unsigned year = (unsigned)(tm.tm_year + 1900) % 10000;
        snprintf(head, sizeof head, "%04u-%02u-%02uT%02u:%02u:%02u", year,
                 (unsigned)(tm.tm_mon + 1) % 100, (unsigned)tm.tm_mday % 100,
                 (unsigned)tm.tm_hour % 100, (unsigned)tm.tm_min % 100, (unsigned)tm.tm_sec % 100);
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
    char b[20];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *out++ = b[--n];
    return out;
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
