/*
 * A streaming JSON writer into a growable buffer: objects and arrays are
 * opened and closed in order, commas are placed for the caller, strings are
 * escaped and always valid UTF-8 (invalid bytes become U+FFFD). No tree is
 * built; one record costs no allocation once the buffer has grown.
 */
#ifndef RPCSENTRY_JSON_H
#define RPCSENTRY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSON_MAX_DEPTH 32

struct json {
    char *buf;
    size_t len, alloc;
    int depth;
    bool need_comma[JSON_MAX_DEPTH];
    bool oom; /* an allocation failed: the record is incomplete and must be dropped */
};

void json_init(struct json *j);
void json_reset(struct json *j); /* empties the buffer, keeps its storage */
void json_free(struct json *j);

/*
 * The writers below take the member's key (NULL inside arrays). They are
 * inline so that a key written as a literal, as nearly all are, is copied
 * with its length known when compiling: no scan, no escaping (a literal is
 * the program's own text, plain ASCII by construction). Any other key is
 * scanned and escaped as a string.
 */

/* Room for extra bytes and the final NUL; false (and oom set) when it cannot be had. */
bool json_grow_slow(struct json *j, size_t extra);
static inline bool json_grow_(struct json *j, size_t extra)
{
    return j->len + extra + 1 <= j->alloc || json_grow_slow(j, extra);
}

/* The comma a member needs, then "key": for any key (escaped), or the comma alone for NULL. */
void json_key_any_(struct json *j, const char *key);

static inline void json_key_plain_(struct json *j, const char *key, size_t n)
{
    bool *nc = &j->need_comma[j->depth];
    size_t c = *nc;
    *nc = true;
    if (!json_grow_(j, n + 4))
        return;
    char *o = j->buf + j->len;
    o[0] = ',';
    o[c] = '"'; /* over the comma when none is needed */
    memcpy(o + c + 1, key, n);
    o[c + n + 1] = '"';
    o[c + n + 2] = ':';
    j->len += c + n + 3;
}

static inline __attribute__((always_inline)) void json_key_(struct json *j, const char *key)
{
#ifdef __OPTIMIZE__
    if (__builtin_constant_p(key != NULL) && key != NULL &&
        __builtin_constant_p(__builtin_strlen(key))) {
        json_key_plain_(j, key, __builtin_strlen(key));
        return;
    }
#endif
    json_key_any_(j, key);
}

/* Values, after the key. */
void json_open_(struct json *j, char bracket);
void json_string_(struct json *j, const char *s, size_t n);
void json_u64_(struct json *j, uint64_t v);
void json_bytes_(struct json *j, const char *s, size_t n); /* as they are */
void json_hex_(struct json *j, const uint8_t *p, size_t n);

/* The outermost object has no key. */
static inline void json_obj_open(struct json *j, const char *key)
{
    if (j->depth > 0 || j->len > 0)
        json_key_(j, key);
    json_open_(j, '{');
}
void json_obj_close(struct json *j);

static inline void json_arr_open(struct json *j, const char *key)
{
    json_key_(j, key);
    json_open_(j, '[');
}
void json_arr_close(struct json *j);

static inline void json_strn(struct json *j, const char *key, const char *s, size_t n)
{
    json_key_(j, key);
    json_string_(j, s, n);
}

static inline void json_str(struct json *j, const char *key, const char *s)
{
    json_key_(j, key);
    json_string_(j, s ? s : "", s ? strlen(s) : 0);
}

static inline void json_u64(struct json *j, const char *key, uint64_t v)
{
    json_key_(j, key);
    json_u64_(j, v);
}

static inline void json_bool(struct json *j, const char *key, bool v)
{
    json_key_(j, key);
    json_bytes_(j, v ? "true" : "false", v ? 4 : 5);
}

/* Writes "key": followed by raw, which must be valid JSON. */
static inline void json_raw(struct json *j, const char *key, const char *raw)
{
    json_key_(j, key);
    json_bytes_(j, raw, strlen(raw));
}

/* Members written elsewhere ("\"a\":1,\"b\":2", no braces), appended as they are. */
static inline void json_members(struct json *j, const char *members, size_t n)
{
    if (!n)
        return;
    json_key_any_(j, NULL);
    json_bytes_(j, members, n);
}

/* Lower-case hex of n bytes as a string. */
static inline void json_hex(struct json *j, const char *key, const uint8_t *p, size_t n)
{
    json_key_(j, key);
    json_hex_(j, p, n);
}

#endif
