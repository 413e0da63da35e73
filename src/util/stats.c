#include "rpcsentry/stats.h"

void stats_foreach(const struct stats *s, void (*fn)(const char *name, uint64_t v, void *ctx),
                   void *ctx)
{
#define X(name) fn(#name, s->name, ctx);
    STATS_COUNTERS(X)
#undef X
}

void stats_add(struct stats *into, const struct stats *from)
{
#define X(name) into->name += from->name;
    STATS_COUNTERS(X)
#undef X
}
