/*
 * A small NDR writer for the decoder tests (the mirror of tests/gen/ndrgen.py):
 * scalars aligned to their size in either byte order, NDR64's 8-byte sizes, and a
 * context handle. Shared by test_decoders.c and test_winreg.c.
 */
#ifndef RPCSENTRY_TEST_NDR_WRITER_H
#define RPCSENTRY_TEST_NDR_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct w {
    uint8_t b[8192];
    size_t n;
    bool le, ndr64;
};

static inline void w_align(struct w *w, size_t a)
{
    while (w->n % a)
        w->b[w->n++] = 0;
}

static inline void w_uint(struct w *w, uint64_t v, size_t size)
{
    w_align(w, size);
    for (size_t i = 0; i < size; i++)
        w->b[w->n + i] = (uint8_t)(v >> (8 * (w->le ? i : size - 1 - i)));
    w->n += size;
}

static inline void w_u16(struct w *w, uint16_t v)
{
    w_uint(w, v, 2);
}

static inline void w_u32(struct w *w, uint32_t v)
{
    w_uint(w, v, 4);
}

/* A size or count: 4 bytes in NDR, 8 in NDR64. */
static inline void w_size(struct w *w, uint64_t v)
{
    w_uint(w, v, w->ndr64 ? 8 : 4);
}

/* A context handle: 4 bytes of attributes, then 16 bytes of tag. */
static inline void w_handle(struct w *w, uint8_t tag)
{
    w_align(w, 4);
    memset(w->b + w->n, 0, 4);
    memset(w->b + w->n + 4, tag, 16);
    w->n += 20;
}

#endif
