/* SASec, MS-TSCH 3.2.5.3: account information of scheduled jobs. */
#include "iface_internal.h"

/* SASetAccountInformation (0): job and account; the password is never read. */
static void req_set_account(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_unique_string(ar, a, "server_name", n, true);
    args_ndr_string(ar, a, "job_name", n, true);
    args_ndr_string(ar, a, "account", n, true);
    bool pw = ndr_ptr(n) != 0;
    if (pw)
        ndr_skip_string(n, true);
    uint32_t flags = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_bool(ar, a, "password_given", pw);
    args_num(ar, a, "job_flags", flags);
}

/* SASetNSAccountInformation (1): the account the AT service runs jobs as. */
static void req_set_ns_account(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_unique_string(ar, a, "server_name", n, true);
    args_ndr_unique_string(ar, a, "account", n, true);
    bool pw = ndr_ptr(n) != 0;
    if (pw)
        ndr_skip_string(n, true);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_bool(ar, a, "password_given", pw);
}

/* SAGetAccountInformation (3): which job. */
static void req_get_account(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_unique_string(ar, a, "server_name", n, true);
    args_ndr_string(ar, a, "job_name", n, true);
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}

static const struct iface_op ops[] = {
    [0] = {"SASetAccountInformation", RPC_CLASS_MODIFY, req_set_account, NULL},
    [1] = {"SASetNSAccountInformation", RPC_CLASS_MODIFY, req_set_ns_account, NULL},
    [2] = {"SAGetNSAccountInformation", RPC_CLASS_READ, NULL, NULL},
    [3] = {"SAGetAccountInformation", RPC_CLASS_READ, req_get_account, NULL},
};

const struct iface_def iface_sasec = {
    .uuid = UUID_LIT(0x378e52b0, 0xc0a9, 0x11cf, 0x82, 0x2d, 0x00, 0xaa, 0x00, 0x51, 0xe4, 0x0f),
    .ver_major = 1,
    .ver_minor = 0,
    .name = "SASec",
    .service = "sasec",
    .spec = "MS-TSCH",
    .target = true,
    .pipes = "atsvc",
    .attack = "T1053.005",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
};
