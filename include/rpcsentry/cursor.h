/*
 * The bounds-checked reader every parser uses for packet bytes.
 *
 * A cursor is a view (pointer, length, offset, error flag) over bytes it does
 * not own. Reading past the end sets the error flag and returns zero; later
 * reads keep failing, so a parser reads a whole structure and checks rd_ok()
 * once at the end. Nothing here allocates.
 */
#ifndef RPCSENTRY_CURSOR_H
#define RPCSENTRY_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
    const uint8_t *p; /* first byte of the view */
    size_t len;       /* bytes in the view */
    size_t off;       /* next byte to read */
    bool err;         /* set by any read out of bounds; sticky */
};

static inline struct rd rd_init(const void *p, size_t len)
{
    struct rd c = {(const uint8_t *)p, p ? len : 0, 0, false};
    return c;
}

static inline size_t rd_left(const struct rd *c)
{
    return c->err ? 0 : c->len - c->off;
}

static inline bool rd_ok(const struct rd *c)
{
    return !c->err;
}

/* True when n more bytes can be read; sets nothing. */
static inline bool rd_has(const struct rd *c, size_t n)
{
    return !c->err && n <= c->len - c->off;
}

static inline bool rd_fail(struct rd *c)
{
    c->err = true;
    c->off = c->len;
    return false;
}

static inline uint8_t rd_u8(struct rd *c)
{
    if (!rd_has(c, 1))
        return (uint8_t)rd_fail(c);
    return c->p[c->off++];
}

static inline uint16_t rd_u16le(struct rd *c)
{
    if (!rd_has(c, 2))
        return (uint16_t)rd_fail(c);
    uint16_t v = (uint16_t)(c->p[c->off] | (c->p[c->off + 1] << 8));
    c->off += 2;
    return v;
}

static inline uint16_t rd_u16be(struct rd *c)
{
    if (!rd_has(c, 2))
        return (uint16_t)rd_fail(c);
    uint16_t v = (uint16_t)((c->p[c->off] << 8) | c->p[c->off + 1]);
    c->off += 2;
    return v;
}

static inline uint32_t rd_u32le(struct rd *c)
{
    if (!rd_has(c, 4))
        return (uint32_t)rd_fail(c);
    const uint8_t *b = c->p + c->off;
    c->off += 4;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static inline uint32_t rd_u32be(struct rd *c)
{
    if (!rd_has(c, 4))
        return (uint32_t)rd_fail(c);
    const uint8_t *b = c->p + c->off;
    c->off += 4;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

static inline uint64_t rd_u64le(struct rd *c)
{
    uint64_t lo = rd_u32le(c);
    uint64_t hi = rd_u32le(c);
    return lo | (hi << 32);
}

static inline uint64_t rd_u64be(struct rd *c)
{
    uint64_t hi = rd_u32be(c);
    uint64_t lo = rd_u32be(c);
    return lo | (hi << 32);
}

/* Big-endian loads from bytes a parser has already taken whole (rd_take): a header of fixed
   size is bounds-checked once, not at each field. */
static inline uint16_t be16_at(const uint8_t *b)
{
    return (uint16_t)((b[0] << 8) | b[1]);
}
static inline uint32_t be32_at(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}
static inline uint64_t be64_at(const uint8_t *b)
{
    return ((uint64_t)be32_at(b) << 32) | be32_at(b + 4);
}

/* Byte-order-selected reads, for protocols that announce it (DCE/RPC drep). */
static inline uint16_t rd_u16(struct rd *c, bool le)
{
    return le ? rd_u16le(c) : rd_u16be(c);
}
static inline uint32_t rd_u32(struct rd *c, bool le)
{
    return le ? rd_u32le(c) : rd_u32be(c);
}
static inline uint64_t rd_u64(struct rd *c, bool le)
{
    return le ? rd_u64le(c) : rd_u64be(c);
}

static inline void rd_skip(struct rd *c, size_t n)
{
    if (!rd_has(c, n)) {
        rd_fail(c);
        return;
    }
    c->off += n;
}

/* Copies n bytes to dst (zeroes dst on failure). */
static inline bool rd_bytes(struct rd *c, void *dst, size_t n)
{
    if (!rd_has(c, n)) {
        memset(dst, 0, n);
        return rd_fail(c);
    }
    memcpy(dst, c->p + c->off, n);
    c->off += n;
    return true;
}

/*
 * Hands out the next n bytes as a slice (valid as long as the underlying
 * buffer is) and advances; NULL and the error flag when they are not there.
 * For passing payload to the next stage, not for parsing it in place.
 */
static inline const uint8_t *rd_take(struct rd *c, size_t n)
{
    if (!rd_has(c, n)) {
        rd_fail(c);
        return NULL;
    }
    const uint8_t *p = c->p + c->off;
    c->off += n;
    return p;
}

/* A cursor over the next n bytes; the parent advances past them. */
static inline struct rd rd_sub(struct rd *c, size_t n)
{
    const uint8_t *p = rd_take(c, n);
    struct rd s = rd_init(p, p ? n : 0);
    if (!p)
        s.err = true;
    return s;
}

/* Advances to the next multiple of n (a power of two) from the view's start. */
static inline void rd_align(struct rd *c, size_t n)
{
    size_t pad = (n - (c->off & (n - 1))) & (n - 1);
    rd_skip(c, pad);
}

/* Moves to an absolute offset within the view. */
static inline void rd_seek(struct rd *c, size_t off)
{
    if (c->err || off > c->len) {
        rd_fail(c);
        return;
    }
    c->off = off;
}

/* Byte at offset i from the current position, without advancing; 0 if absent. */
static inline uint8_t rd_peek(const struct rd *c, size_t i)
{
    return rd_has(c, i + 1) ? c->p[c->off + i] : 0;
}

#endif
