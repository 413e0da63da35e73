/*
 * A growable byte buffer charged to a memory account. The buffer owns its
 * storage; buf_free releases it and the charge. Growth stops at `limit`
 * (per buffer) or when the account refuses: buf_append then returns false
 * and leaves the contents as they were.
 */
#ifndef RPCSENTRY_BUF_H
#define RPCSENTRY_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/mem.h"

struct buf {
    uint8_t *data;
    size_t len;
    size_t alloc;
    size_t limit; /* 0 = no per-buffer limit */
    struct memacct *acct;
    enum mem_cat cat;
};

void buf_init(struct buf *b, struct memacct *acct, enum mem_cat cat, size_t limit);
bool buf_reserve(struct buf *b, size_t total);
bool buf_append(struct buf *b, const void *p, size_t n);
/* Drops the first n bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);
static inline void buf_clear(struct buf *b)
{
    b->len = 0;
}
void buf_free(struct buf *b);

#endif
