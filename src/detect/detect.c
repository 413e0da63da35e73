#include "rpcsentry/detect.h"

#include "rpcsentry/iface.h"
#include "rpcsentry/output.h"
#include "rpcsentry/worker.h"

void detect_request(struct worker *w, struct rpc_call *call)
{
    (void)w;
    (void)call;
}

static void count_class(struct worker *w, const struct rpc_call *c)
{
    switch (c->cls) {
    case RPC_CLASS_READ: w->stats.calls_read++; break;
    case RPC_CLASS_CREATE: w->stats.calls_create++; break;
    case RPC_CLASS_MODIFY: w->stats.calls_modify++; break;
    case RPC_CLASS_DELETE: w->stats.calls_delete++; break;
    case RPC_CLASS_EXECUTE: w->stats.calls_execute++; break;
    default: w->stats.calls_other++; break;
    }
    if (c->iface && c->iface->target)
        w->stats.target_calls++;
}

void detect_complete(struct worker *w, struct rpc_call *call)
{
    if (call->kind == RPC_KIND_REQUEST && call->req_ptype != RPC_PTYPE_NONE)
        count_class(w, call);
    output_call(w, call);
}
