#include "rpcsentry/buf.h"

#include <string.h>

void buf_init(struct buf *b, struct memacct *acct, enum mem_cat cat, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->acct = acct;
    b->cat = cat;
    b->limit = limit;
}

bool buf_reserve(struct buf *b, size_t total)
{
    if (total <= b->alloc)
        return true;
    if (b->limit && total > b->limit)
        return false;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < total)
        n *= 2;
    if (b->limit && n > b->limit)
        n = b->limit;
    uint8_t *p = mem_realloc(b->acct, b->cat, b->data, b->alloc, n);
    if (!p)
        return false;
    b->data = p;
    b->alloc = n;
    return true;
}

bool buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return true;
    if (b->len + n < b->len || !buf_reserve(b, b->len + n))
        return false;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_free(struct buf *b)
{
    mem_free(b->acct, b->cat, b->data, b->alloc);
    b->data = NULL;
    b->len = b->alloc = 0;
}
