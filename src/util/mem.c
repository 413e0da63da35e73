#include "rpcsentry/mem.h"

#include <stdlib.h>
#include <string.h>

const char *mem_cat_name(enum mem_cat c)
{
    switch (c) {
    case MEM_FLOW: return "flow";
    case MEM_STREAM: return "stream";
    case MEM_APP: return "app";
    case MEM_ARGS: return "args";
    case MEM_DEFRAG: return "defrag";
    case MEM_PCAP: return "pcap_log";
    default: return "?";
    }
}

bool mem_charge(struct memacct *m, enum mem_cat c, size_t n)
{
    if (!m)
        return true;
    size_t total_cap = m->total_cap;
    if (c == MEM_ARGS)
        total_cap += total_cap / 16; /* the reserve: see mem.h */
    /* the pcap log's buffers count in the total but only against their own cap */
    size_t others = m->total_used - m->used[MEM_PCAP];
    if ((m->cap[c] && m->used[c] + n > m->cap[c]) ||
        (c != MEM_PCAP && total_cap && others + n > total_cap)) {
        m->refused[c]++;
        return false;
    }
    m->used[c] += n;
    m->total_used += n;
    if (m->used[c] > m->peak[c])
        m->peak[c] = m->used[c];
    if (m->total_used > m->total_peak)
        m->total_peak = m->total_used;
    return true;
}

void mem_release(struct memacct *m, enum mem_cat c, size_t n)
{
    if (!m)
        return;
    m->used[c] = m->used[c] >= n ? m->used[c] - n : 0;
    m->total_used = m->total_used >= n ? m->total_used - n : 0;
}

void *mem_alloc(struct memacct *m, enum mem_cat c, size_t n)
{
    if (!mem_charge(m, c, n))
        return NULL;
    void *p = malloc(n ? n : 1);
    if (!p)
        mem_release(m, c, n);
    return p;
}

void *mem_calloc(struct memacct *m, enum mem_cat c, size_t n)
{
    void *p = mem_alloc(m, c, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *mem_realloc(struct memacct *m, enum mem_cat c, void *p, size_t old_n, size_t new_n)
{
    if (new_n > old_n && !mem_charge(m, c, new_n - old_n))
        return NULL;
    void *q = realloc(p, new_n ? new_n : 1);
    if (!q) {
        if (new_n > old_n)
            mem_release(m, c, new_n - old_n);
        return NULL;
    }
    if (new_n < old_n)
        mem_release(m, c, old_n - new_n);
    return q;
}

void mem_free(struct memacct *m, enum mem_cat c, void *p, size_t n)
{
    if (!p)
        return;
    free(p);
    mem_release(m, c, n);
}
