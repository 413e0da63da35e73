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

/* key is NULL inside arrays. */
void json_obj_open(struct json *j, const char *key);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
void json_str(struct json *j, const char *key, const char *s);
void json_strn(struct json *j, const char *key, const char *s, size_t n);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
/* Writes "key": followed by raw, which must be valid JSON. */
void json_raw(struct json *j, const char *key, const char *raw);
/* Members written elsewhere ("\"a\":1,\"b\":2", no braces), appended as they are. */
void json_members(struct json *j, const char *members, size_t n);
/* Lower-case hex of n bytes as a string. */
void json_hex(struct json *j, const char *key, const uint8_t *p, size_t n);

#endif
