/*
 * NDR and NDR64 (C706 ch. 14, MS-RPCE 2.2.5) on the bounds-checked cursor.
 * One reader per stub: the transfer syntax of the call's context chooses
 * NDR64 (8-byte pointers and counts, 8-byte alignment of them) and the
 * request's drep the byte order. Failures are sticky, as with the cursor.
 */
#ifndef RPCSENTRY_NDR_H
#define RPCSENTRY_NDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/cursor.h"

struct ndr {
    struct rd c;
    bool ndr64;
    bool le;
};

static inline struct ndr ndr_init(const uint8_t *p, size_t len, bool ndr64, bool le)
{
    struct ndr n = {rd_init(p, len), ndr64, le};
    return n;
}

static inline bool ndr_ok(const struct ndr *n)
{
    return rd_ok(&n->c);
}

static inline uint8_t ndr_u8(struct ndr *n)
{
    return rd_u8(&n->c);
}

static inline uint16_t ndr_u16(struct ndr *n)
{
    rd_align(&n->c, 2);
    return rd_u16(&n->c, n->le);
}

static inline uint32_t ndr_u32(struct ndr *n)
{
    rd_align(&n->c, 4);
    return rd_u32(&n->c, n->le);
}

static inline uint64_t ndr_u64(struct ndr *n)
{
    rd_align(&n->c, 8);
    return rd_u64(&n->c, n->le);
}

/* A pointer's referent id (0 = NULL): 4 bytes, 8 in NDR64. */
static inline uint64_t ndr_ptr(struct ndr *n)
{
    return n->ndr64 ? ndr_u64(n) : ndr_u32(n);
}

/* A conformance or variance count, or a DWORD_PTR: 4 bytes, 8 in NDR64. */
static inline uint64_t ndr_size(struct ndr *n)
{
    return n->ndr64 ? ndr_u64(n) : ndr_u32(n);
}

/* A 20-byte context handle. */
static inline void ndr_handle(struct ndr *n, uint8_t out[20])
{
    rd_align(&n->c, 4);
    rd_bytes(&n->c, out, 20);
}

/*
 * A conformant varying string (wide: UTF-16 in the stub's byte order;
 * otherwise single-byte characters) into out as UTF-8; one longer than
 * outsz keeps its start and its end with "…" between, and *truncated is set.
 * Checks that the counts are coherent and present in the stub; on failure
 * the reader's error is set and out is empty. Returns the characters the
 * wire claimed (actual count), for callers that report sizes.
 */
uint64_t ndr_string(struct ndr *n, bool wide, char *out, size_t outsz, bool *truncated);
/* The same, with the string's length in characters (the count less a terminating NUL). */
uint64_t ndr_string_len(struct ndr *n, bool wide, char *out, size_t outsz, bool *truncated,
                        uint64_t *length);

/*
 * units characters of s (UTF-16 in byte order le when wide, else single
 * bytes) into out as UTF-8, stopping at a NUL; one longer than outsz keeps
 * its start and its end with "…" between, and *truncated is set. For
 * strings that are not NDR strings themselves (registry data).
 */
void ndr_text(struct rd *s, uint64_t units, bool wide, bool le, char *out, size_t outsz,
              bool *truncated);

/* Skips a conformant varying string. */
void ndr_skip_string(struct ndr *n, bool wide);

/* A top-level [unique] string: referent, then the string when non-NULL. Returns false for NULL. */
bool ndr_unique_string(struct ndr *n, bool wide, char *out, size_t outsz, bool *truncated);

#endif
