#include "rpcsentry/json.h"
#include "rpcsentry/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void json_init(struct json *j)
{
    memset(j, 0, sizeof *j);
}

void json_reset(struct json *j)
{
    j->len = 0;
    j->depth = 0;
    j->need_comma[0] = false;
    j->oom = false;
}

void json_free(struct json *j)
{
    free(j->buf);
    memset(j, 0, sizeof *j);
}

bool json_grow_slow(struct json *j, size_t extra)
{
    size_t n = j->alloc ? j->alloc : 1024;
    while (n < j->len + extra + 1)
        n *= 2;
    char *p = realloc(j->buf, n);
    if (!p) {
        j->oom = true;
        return false;
    }
    j->buf = p;
    j->alloc = n;
    return true;
}

static inline bool grow(struct json *j, size_t extra)
{
    return json_grow_(j, extra);
}

/* The buffer stays NUL-terminated only at the end (json_finish): bytes go in as they are. */
static inline void put(struct json *j, const char *s, size_t n)
{
    if (!grow(j, n))
        return;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

static inline void putc_(struct json *j, char c)
{
    if (grow(j, 1))
        j->buf[j->len++] = c;
}

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Bytes that a JSON string cannot carry as they are (or that start a UTF-8 sequence). */
static const unsigned char special[256] = {
    [0 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xff] = 1,
};

#if defined(__SSE2__)
/* The special bytes of the 16 at p, a bit each: a signed compare puts the bytes of 0x80 and
   above below 0x20 too. */
static inline unsigned special16(const unsigned char *p)
{
    const __m128i lim = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                  bslash = _mm_set1_epi8('\\');
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_cmplt_epi8(x, lim),
                             _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * The same of the 8 at p: a byte's top bit is set when the byte is below 0x20, is '"' or
 * '\\' (the subtraction from zero borrows), or has its own top bit set. A borrow can only
 * set bits above a byte that is special itself, so the lowest bit found marks the first
 * special byte.
 */
static inline uint64_t special8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, tops = 0x8080808080808080ULL;
    uint64_t x;
    memcpy(&x, p, 8);
    return ((x - ones * 0x20) | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones) | x) &
           tops;
}
#endif

/*
 * How many bytes from p on a JSON string carries as they are: 16 or 8 at a time, and the
 * last few of a string of 8 or more in one more step that ends with the string (the bytes
 * it takes again were plain, so the first special one it finds is the first). Most strings
 * of a record are short (2.6 million in 66,000 records on the RPC-dense bench input): a
 * byte-at-a-time tail was most of this function's cost.
 */
static size_t plain_run(const unsigned char *p, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        for (; i + 16 <= n; i += 16) {
            unsigned bits = special16(p + i);
            if (bits)
                return i + (size_t)__builtin_ctz(bits);
        }
        if (i == n)
            return n;
        unsigned bits = special16(p + n - 16);
        return bits ? n - 16 + (size_t)__builtin_ctz(bits) : n;
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n >= 8) {
        for (; i + 8 <= n; i += 8) {
            uint64_t m = special8(p + i);
            if (m)
                return i + ((size_t)__builtin_ctzll(m) >> 3);
        }
        if (i == n)
            return n;
        uint64_t m = special8(p + n - 8);
        return m ? n - 8 + ((size_t)__builtin_ctzll(m) >> 3) : n;
    }
#endif
    while (i < n && !special[p[i]])
        i++;
    return i;
}

void json_string_(struct json *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = plain_run(p, n);
    if (i == n) { /* nearly always: one copy */
        if (!grow(j, n + 2))
            return;
        char *o = j->buf + j->len;
        o[0] = '"';
        memcpy(o + 1, s, n);
        o[n + 1] = '"';
        j->len += n + 2;
        return;
    }
    putc_(j, '"');
    put(j, s, i);
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(j, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n')
                put(j, "\\n", 2);
            else if (c == '\r')
                put(j, "\\r", 2);
            else if (c == '\t')
                put(j, "\\t", 2);
            else
                put(j, e, 6);
            i++;
        } else {
            size_t l = utf8_seq(p + i, n - i);
            if (l == 0) {
                put(j, "\xef\xbf\xbd", 3);
                i++;
            } else {
                put(j, (const char *)p + i, l);
                i += l;
            }
        }
        size_t run = plain_run(p + i, n - i);
        put(j, (const char *)p + i, run);
        i += run;
    }
    putc_(j, '"');
}

void json_key_any_(struct json *j, const char *k)
{
    if (j->need_comma[j->depth])
        putc_(j, ',');
    j->need_comma[j->depth] = true;
    if (!k)
        return;
    json_string_(j, k, strlen(k));
    putc_(j, ':');
}

void json_open_(struct json *j, char bracket)
{
    putc_(j, bracket);
    if (j->depth < JSON_MAX_DEPTH - 1)
        j->depth++;
    j->need_comma[j->depth] = false;
}

/* The outermost value closed: the text ends with a NUL (grow always keeps room for it). */
static inline void terminate(struct json *j)
{
    if (j->depth == 0 && j->buf)
        j->buf[j->len] = '\0';
}

void json_obj_close(struct json *j)
{
    putc_(j, '}');
    if (j->depth > 0)
        j->depth--;
    terminate(j);
}

void json_arr_close(struct json *j)
{
    putc_(j, ']');
    if (j->depth > 0)
        j->depth--;
    terminate(j);
}

void json_u64_(struct json *j, uint64_t v)
{
    /* the digits straight into the buffer (at most 20), not through a copy */
    if (!grow(j, 20))
        return;
    j->len = (size_t)(dec_u64(j->buf + j->len, v) - j->buf);
}

void json_bytes_(struct json *j, const char *s, size_t n)
{
    put(j, s, n);
}

void json_hex_(struct json *j, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!grow(j, 2 * n + 2))
        return;
    char *o = j->buf + j->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[p[i] >> 4];
        *o++ = hex[p[i] & 15];
    }
    *o = '"';
    j->len += 2 * n + 2;
}
