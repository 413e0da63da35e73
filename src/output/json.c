#include "rpcsentry/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(struct json *j) { memset(j, 0, sizeof *j); }

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

static bool grow_slow(struct json *j, size_t extra)
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
    return j->len + extra + 1 <= j->alloc || grow_slow(j, extra);
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
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static void put_string(struct json *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    putc_(j, '"');
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (!special[c]) {
            run++, i++;
            continue;
        }
        put(j, (const char *)p + i - run, run);
        run = 0;
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
    }
    put(j, (const char *)p + i - run, run);
    putc_(j, '"');
}

static void key(struct json *j, const char *k)
{
    if (j->need_comma[j->depth])
        putc_(j, ',');
    j->need_comma[j->depth] = true;
    if (!k)
        return;
    /* keys are nearly always plain ASCII and short: copied as scanned, in one pass */
    enum { SHORT = 64 };
    if (grow(j, SHORT + 3)) {
        char *o = j->buf + j->len;
        size_t n = 0;
        o[0] = '"';
        while (n < SHORT && k[n] && !special[(unsigned char)k[n]]) {
            o[n + 1] = k[n];
            n++;
        }
        if (!k[n]) {
            o[n + 1] = '"';
            o[n + 2] = ':';
            j->len += n + 3;
            return;
        }
    }
    /* long, or not plain: escaped as any string */
    put_string(j, k, strlen(k));
    putc_(j, ':');
}

void json_obj_open(struct json *j, const char *k)
{
    if (j->depth > 0 || j->len > 0)
        key(j, k);
    putc_(j, '{');
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

void json_arr_open(struct json *j, const char *k)
{
    key(j, k);
    putc_(j, '[');
    if (j->depth < JSON_MAX_DEPTH - 1)
        j->depth++;
    j->need_comma[j->depth] = false;
}

void json_arr_close(struct json *j)
{
    putc_(j, ']');
    if (j->depth > 0)
        j->depth--;
    terminate(j);
}

void json_strn(struct json *j, const char *k, const char *s, size_t n)
{
    key(j, k);
    put_string(j, s, n);
}

void json_str(struct json *j, const char *k, const char *s)
{
    json_strn(j, k, s ? s : "", s ? strlen(s) : 0);
}

/* Decimal digits of v at the end of b (24 bytes); returns where they start. */
static char *digits(uint64_t v, char *b)
{
    char *p = b + 24;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

void json_u64(struct json *j, const char *k, uint64_t v)
{
    char b[24];
    char *p = digits(v, b);
    key(j, k);
    put(j, p, (size_t)(b + 24 - p));
}

void json_i64(struct json *j, const char *k, int64_t v)
{
    char b[25];
    char *p = digits(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, b + 1);
    if (v < 0)
        *--p = '-';
    key(j, k);
    put(j, p, (size_t)(b + 25 - p));
}

void json_bool(struct json *j, const char *k, bool v)
{
    key(j, k);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

void json_raw(struct json *j, const char *k, const char *raw)
{
    key(j, k);
    put(j, raw, strlen(raw));
}

void json_members(struct json *j, const char *members, size_t n)
{
    if (!n)
        return;
    key(j, NULL);
    put(j, members, n);
}

void json_hex(struct json *j, const char *k, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    key(j, k);
    putc_(j, '"');
    for (size_t i = 0; i < n; i++) {
        char b[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        put(j, b, 2);
    }
    putc_(j, '"');
}
