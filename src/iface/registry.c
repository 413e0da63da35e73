/* The list of interfaces, lookups over it, and the iface stage's entry points. */
#include <string.h>
#include <strings.h>

#include "iface_internal.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/worker.h"

/* the interfaces decoded here (winreg is not a target: its calls are routed one by one) */
static const struct iface_def *const targets[] = {
    &iface_tsch, &iface_atsvc, &iface_sasec, &iface_svcctl, &iface_epm, &iface_winreg,
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

static const struct iface_def *all_defs[N_TARGETS + 64];
static size_t n_all;

static void build_all(void)
{
    if (n_all)
        return;
    size_t n = 0;
    for (size_t i = 0; i < N_TARGETS; i++)
        all_defs[n++] = targets[i];
    for (size_t i = 0; i < iface_common_count && n < sizeof all_defs / sizeof all_defs[0]; i++)
        all_defs[n++] = &iface_common[i];
    n_all = n;
}

size_t iface_all(const struct iface_def *const **out)
{
    build_all();
    *out = all_defs;
    return n_all;
}

const struct iface_def *iface_find(const struct uuid *u)
{
    for (size_t i = 0; i < N_TARGETS; i++)
        if (uuid_eq(&targets[i]->uuid, u))
            return targets[i];
    for (size_t i = 0; i < iface_common_count; i++)
        if (uuid_eq(&iface_common[i].uuid, u))
            return &iface_common[i];
    return NULL;
}

const struct iface_op *iface_op(const struct iface_def *d, uint16_t opnum)
{
    if (!d || opnum >= d->n_ops || !d->ops[opnum].name)
        return NULL;
    return &d->ops[opnum];
}

/* Does the space-separated list have this pipe name? */
static bool list_has(const char *list, const char *name, size_t len)
{
    while (list && *list) {
        const char *sp = strchr(list, ' ');
        size_t n = sp ? (size_t)(sp - list) : strlen(list);
        if (n == len && strncasecmp(list, name, len) == 0)
            return true;
        list = sp ? sp + 1 : NULL;
    }
    return false;
}

size_t iface_for_pipe(const char *pipe, const struct iface_def **out, size_t max)
{
    /* accept "\PIPE\svcctl", "\svcctl", "svcctl" */
    if (strncasecmp(pipe, "\\pipe\\", 6) == 0)
        pipe += 6;
    while (*pipe == '\\')
        pipe++;
    size_t len = strlen(pipe);
    size_t n = 0;
    build_all();
    for (size_t i = 0; i < n_all && n < max; i++)
        if (list_has(all_defs[i]->pipes, pipe, len))
            out[n++] = all_defs[i];
    return n;
}

const char *iface_suricata_procedure(const struct iface_def *d, const struct iface_op *op)
{
    const char *n = op->name;
    switch (d->suricata_names) {
    case SURI_NAMES_STRIP_R: return n[0] == 'R' && n[1] >= 'A' && n[1] <= 'Z' ? n + 1 : n;
    case SURI_NAMES_STRIP_IDL: return strncmp(n, "IDL_", 4) == 0 ? n + 4 : n;
    default: return n;
    }
}

/* Names the call's interface and operation and sets its class from the table. */
static void classify(struct rpc_call *call)
{
    const struct iface_def *d = call->ctx.iface;
    call->iface = d;
    /* a response whose request was lost has no opnum */
    call->op = call->req_ptype == RPC_PTYPE_NONE ? NULL : iface_op(d, call->opnum);
    call->cls = call->op ? call->op->cls : RPC_CLASS_OTHER;
}

static bool run_decoder(struct worker *w, struct rpc_call *call, iface_decode_fn fn,
                        const uint8_t *stub, size_t len)
{
    if (!fn || (call->sealed && !call->decrypted) || !stub || len == 0)
        return false;
    if (!call->args && !(call->args = args_new(&w->mem))) {
        /* even the reserve is spent: the record says its arguments were not read */
        w->stats.dce_memcap++;
        if (!(call->flags & RPC_F_ARGS_MEMCAP))
            anomaly_raise(w, call->transport->flow, NULL, ANOM_DCE_MEMCAP,
                          "no memory left for the decoded arguments");
        call->flags |= RPC_F_ARGS_MEMCAP;
        return false;
    }
    struct ndr n = ndr_init(stub, len, call->ctx.syntax == RPC_SYNTAX_NDR64, call->le);
    fn(w, call, &n);
    return true;
}

/*
 * The operations of the watched interfaces all return a DWORD, HRESULT or
 * NET_API_STATUS as their last four bytes: that is the call's result.
 */
static void read_status(struct worker *w, struct rpc_call *call)
{
    if (!call->iface || !(call->iface->target || call->iface->returns_status) ||
        (call->sealed && !call->decrypted) || call->res_ptype != 2 || call->res_stub_avail < 4 ||
        call->res_stub_len != call->res_stub_avail)
        return;
    struct rd c = rd_init(call->res_stub, call->res_stub_avail);
    rd_seek(&c, call->res_stub_avail - 4);
    call->status = rd_u32(&c, call->le);
    call->has_status = rd_ok(&c);
    (void)w;
}

void iface_request(struct worker *w, struct rpc_call *call)
{
    classify(call);
    if (call->iface && call->iface->target && call->sealed && !call->decrypted && call->op &&
        call->cls == RPC_CLASS_CREATE && call->iface == &iface_tsch && call->opnum == 1)
        call->class_detail = "create_or_update"; /* the flags that would say are sealed */
    if (call->op &&
        run_decoder(w, call, call->op->decode_req, call->req_stub, call->req_stub_avail))
        indicators_evaluate(w, call);
    detect_request(w, call);
}

void iface_complete(struct worker *w, struct rpc_call *call)
{
    if (call->kind == RPC_KIND_REQUEST) {
        if (call->req_ptype == RPC_PTYPE_NONE)
            classify(call);
        read_status(w, call);
        if (call->op && call->res_ptype == 2 /* response */)
            run_decoder(w, call, call->op->decode_res, call->res_stub, call->res_stub_avail);
    }
    detect_complete(w, call);
}
