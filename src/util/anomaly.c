#include "rpcsentry/rpc_call.h"
#include "rpcsentry/types.h"
#include "rpcsentry/worker.h"

static const struct anomaly_info infos[ANOM_COUNT] = {
#define X(id, type, event, app, ev) [id] = {type, event, app, ev},
    ANOMALY_TYPES(X)
#undef X
};

_Static_assert(ANOM_COUNT <= 64, "an anomaly_mask has 64 bits");

const struct anomaly_info *anomaly_info(enum anomaly_type t)
{
    return (unsigned)t < ANOM_COUNT ? &infos[t] : NULL;
}

/* Counts the anomaly; true when a record should be written (the first of its kind). */
static bool count(struct worker *w, anomaly_mask *seen, enum anomaly_type t)
{
    if ((unsigned)t >= ANOM_COUNT)
        return false;
    w->anomalies[t]++;
    w->stats.anomalies++;
    if (seen) {
        anomaly_mask bit = (anomaly_mask)1 << t;
        if (*seen & bit)
            return false;
        *seen |= bit;
    }
    return infos[t].write_event;
}

void anomaly_raise(struct worker *w, const struct flow_ref *fr, anomaly_mask *seen,
                   enum anomaly_type t, const char *detail)
{
    if (count(w, seen, t) && w->on_anomaly)
        w->on_anomaly(w, fr, t, detail);
}

void anomaly_raise_call(struct worker *w, const struct rpc_call *call, anomaly_mask *seen,
                        enum anomaly_type t, const char *detail)
{
    if (!count(w, seen, t))
        return;
    if (w->on_call_anomaly)
        w->on_call_anomaly(w, call, t, detail);
    else if (w->on_anomaly)
        w->on_anomaly(w, call->transport->flow, t, detail);
}
