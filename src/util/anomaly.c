#include "rpcsentry/types.h"
#include "rpcsentry/worker.h"

static const struct anomaly_info infos[ANOM_COUNT] = {
#define X(id, type, event, app, ev) [id] = {type, event, app, ev},
    ANOMALY_TYPES(X)
#undef X
};

_Static_assert(ANOM_COUNT <= 32, "per-flow anomaly mask is 32 bits");

const struct anomaly_info *anomaly_info(enum anomaly_type t)
{
    return (unsigned)t < ANOM_COUNT ? &infos[t] : NULL;
}

void anomaly_raise(struct worker *w, const struct flow_ref *fr, uint32_t *seen,
                   enum anomaly_type t, const char *detail)
{
    if ((unsigned)t >= ANOM_COUNT)
        return;
    w->anomalies[t]++;
    w->stats.anomalies++;
    if (seen) {
        uint32_t bit = 1u << t;
        if (*seen & bit)
            return;
        *seen |= bit;
    }
    if (w->on_anomaly && infos[t].write_event)
        w->on_anomaly(w, fr, t, detail);
}
