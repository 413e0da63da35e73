/*
 * UUIDs as DCE/RPC carries them. struct uuid holds the 16 bytes in text order
 * (the order of the hex digits in "86d35949-83c9-..."), whatever the wire
 * byte order was, so comparison is memcmp and formatting is straight.
 */
#ifndef RPCSENTRY_UUID_H
#define RPCSENTRY_UUID_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rpcsentry/cursor.h"

struct uuid {
    uint8_t b[16];
};

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Reads a wire UUID; le selects little-endian (drep 0x10) for the first three fields. */
struct uuid rd_uuid(struct rd *c, bool le);

/* Writes the canonical lower-case form into out (UUID_STR_LEN bytes). */
void uuid_fmt(const struct uuid *u, char out[UUID_STR_LEN]);

/* Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case); false if malformed. */
bool uuid_parse(const char *s, struct uuid *out);

/* The 16 bytes as they appear on the wire with little-endian drep. */
void uuid_to_wire_le(const struct uuid *u, uint8_t out[16]);

static inline bool uuid_eq(const struct uuid *a, const struct uuid *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

static inline bool uuid_is_nil(const struct uuid *u)
{
    static const uint8_t zero[16];
    return memcmp(u->b, zero, 16) == 0;
}

#endif
