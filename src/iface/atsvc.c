/* ATSvc, MS-TSCH 3.2.5.2: the legacy AT scheduler interface (at.exe). */
#include <stdio.h>

#include "iface_internal.h"
#include "rpcsentry/argkeys.h"

static const struct flag_name job_flags[] = {
    {0x01, "run_periodically"}, {0x02, "exec_error"},     {0x04, "runs_today"},
    {0x08, "add_current_date"}, {0x10, "noninteractive"}, {0, NULL},
};

static const char *const weekdays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                       "friday", "saturday", "sunday"};

/* NetrJobAdd (0): the command and when it runs. */
static void req_job_add(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_unique_string(ar, a, "server_name", n, true);
    /* AT_INFO (top-level [ref]): JobTime is a DWORD_PTR, 8 bytes in NDR64 */
    uint64_t job_time = ndr_size(n);
    uint32_t dom = ndr_u32(n);
    uint8_t dow = ndr_u8(n), flags = ndr_u8(n);
    uint64_t cmd = ndr_ptr(n);
    if (cmd)
        args_ndr_string(ar, a, ARG_COMMAND, n, true);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    char t[16];
    snprintf(t, sizeof t, "%02u:%02u:%02u", (unsigned)(job_time / 3600000 % 24),
             (unsigned)(job_time / 60000 % 60), (unsigned)(job_time / 1000 % 60));
    args_str(ar, a, "job_time", t);
    args_num(ar, a, "job_time_ms", job_time);
    uint16_t days = args_arr(ar, a, "days_of_month");
    for (int d = 0; d < 31; d++)
        if (dom & (1u << d))
            args_num(ar, days, NULL, (uint64_t)d + 1);
    uint16_t wd = args_arr(ar, a, "days_of_week");
    for (int d = 0; d < 7; d++)
        if (dow & (1u << d))
            args_str(ar, wd, NULL, weekdays[d]);
    args_flags(ar, a, "flags", flags, job_flags);
}

/* NetrJobAdd's answer: the job id. */
static void res_job_add(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    (void)w;
    uint32_t id = ndr_u32(n);
    if (ndr_ok(n))
        args_num(call->args, args_section(call->args, "result"), "job_id", id);
}

/* NetrJobDel (1): the range of job ids removed. */
static void req_job_del(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_unique_string(ar, a, "server_name", n, true);
    uint32_t lo = ndr_u32(n), hi = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_num(ar, a, "min_job_id", lo);
    args_num(ar, a, "max_job_id", hi);
}

/* NetrJobGetInfo (3): which job. */
static void req_job_get(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_unique_string(ar, a, "server_name", n, true);
    uint32_t id = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_num(ar, a, "job_id", id);
}

static void req_server(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    args_ndr_unique_string(call->args, a, "server_name", n, true);
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}

static const struct iface_op ops[] = {
    [0] = {"NetrJobAdd", RPC_CLASS_CREATE, req_job_add, res_job_add},
    [1] = {"NetrJobDel", RPC_CLASS_DELETE, req_job_del, NULL},
    [2] = {"NetrJobEnum", RPC_CLASS_READ, req_server, NULL},
    [3] = {"NetrJobGetInfo", RPC_CLASS_READ, req_job_get, NULL},
};

const struct iface_def iface_atsvc = {
    .uuid = UUID_LIT(0x1ff70682, 0x0a51, 0x30e8, 0x07, 0x6d, 0x74, 0x0b, 0xe8, 0xce, 0xe9, 0x8b),
    .ver_major = 1,
    .ver_minor = 0,
    .name = "ATSvc",
    .service = "atsvc",
    .spec = "MS-TSCH",
    .target = true,
    .pipes = "atsvc",
    .attack = "T1053.002",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
};
