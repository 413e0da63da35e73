/*
 * Every stub decoder: [interface index][opnum][flags: 1 NDR64, 2 big-endian,
 * 4 response][stub...]. Decoders run as they do on real calls, through
 * iface_request/iface_complete, so handle tracking and indicators run too.
 */
#include "fuzz_common.h"
#include "rpcsentry/args.h"
#include "rpcsentry/iface.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct worker *w = fuzz_worker();
    if (size < 3)
        return 0;
    const struct iface_def *const *all;
    size_t n = iface_all(&all);
    const struct iface_def *d = all[data[0] % n];
    /* the flow a call belongs to: no flow record needed (an alert marks the ref) */
    static struct flow_ref ref_flow;
    static void *state;
    uint64_t tx = 0;
    struct rpc_transport t = {.kind = RPC_TRANSPORT_TCP, .flow = &ref_flow, .tx_counter = &tx};
    struct rpc_call c;
    memset(&c, 0, sizeof c);
    c.kind = RPC_KIND_REQUEST;
    c.transport = &t;
    c.opnum = data[1] % (d->n_ops ? d->n_ops : 1);
    c.le = !(data[2] & 2);
    c.ctx.iface = d;
    c.ctx.syntax = (data[2] & 1) ? RPC_SYNTAX_NDR64 : RPC_SYNTAX_NDR;
    c.req_ptype = 0;
    c.res_ptype = RPC_PTYPE_NONE;
    c.iface_state = &state;
    const uint8_t *stub = data + 3;
    size_t len = size - 3;
    if (data[2] & 4) {
        /* a response: the request part is empty, the stub is the answer */
        iface_request(w, &c);
        c.res_ptype = 2;
        c.res_stub = stub;
        c.res_stub_avail = len;
        c.res_stub_len = len;
    } else {
        c.req_stub = stub;
        c.req_stub_avail = len;
        c.req_stub_len = len;
        iface_request(w, &c);
        c.req_stub = NULL;
    }
    iface_complete(w, &c);
    args_free(&w->mem, c.args);
    if (data[0] & 0x80) {
        iface_assoc_state_free(w, state);
        state = NULL;
    }
    return 0;
}
