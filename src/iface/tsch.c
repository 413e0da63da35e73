/* ITaskSchedulerService, MS-TSCH 3.2.5.4: the task scheduler's modern RPC interface. */
#include <stdlib.h>
#include <string.h>

#include "iface_internal.h"
#include "rpcsentry/argkeys.h"
#include "rpcsentry/text.h"
#include "sddl.h"
#include "taskxml.h"

#define TASK_XML_MAX (256u * 1024) /* UTF-8 bytes of task XML read */
#define TASK_XML_KEEP 8192         /* of which the record keeps at most this much */

static const struct flag_name register_flags[] = {
    {0x01, "validate_only"},
    {0x02, "create"},
    {0x04, "update"},
    {0x08, "disable"},
    {0x10, "dont_add_principal_ace"},
    {0x20, "ignore_registration_triggers"},
    {0, NULL},
};

static const struct flag_name logon_types[] = {
    {0, "none"},
    {1, "password"},
    {2, "s4u"},
    {3, "interactive_token"},
    {4, "group"},
    {5, "service_account"},
    {6, "interactive_token_or_password"},
    {0, NULL},
};

static const struct flag_name no_flags[] = {{0, NULL}};

static const struct flag_name run_flags[] = {
    {0x1, "as_self"}, {0x2, "ignore_constraints"}, {0x4, "use_session_id"}, {0x8, "user_sid"},
    {0, NULL},
};

/* The task XML: parsed for its pieces, and kept (its start) for the record. */
static void task_xml(struct worker *w, struct rpc_call *call, struct ndr *n, uint16_t a)
{
    uint64_t max = ndr_size(n), offset = ndr_size(n), actual = ndr_size(n);
    if (!ndr_ok(n) || offset > max || actual > max - offset || actual * 2 > rd_left(&n->c)) {
        rd_fail(&n->c);
        return;
    }
    struct rd s = rd_sub(&n->c, (size_t)actual * 2);
    if (!w->scratch) {
        w->scratch = malloc(TASK_XML_MAX);
        w->scratch_len = w->scratch ? TASK_XML_MAX : 0;
    }
    char *xml = w->scratch_len >= TASK_XML_MAX ? w->scratch : NULL;
    if (!xml) {
        args_bool(call->args, a, "xml_not_read", true);
        return;
    }
    bool cut;
    size_t len = utf16_to_utf8(&s, (size_t)actual, n->le, xml, TASK_XML_MAX, &cut);
    args_num(call->args, a, "xml_chars", actual);
    enum taskxml_status st = taskxml_parse(xml, len, call->args, a);
    if (st != TASKXML_OK) {
        static const char *const why[] = {"ok", "malformed", "doctype", "too_deep"};
        args_str(call->args, a, "xml_error", why[st]);
    }
    size_t keep = len < TASK_XML_KEEP ? len : TASK_XML_KEEP;
    while (keep > 0 && keep < len && ((unsigned char)xml[keep] & 0xc0) == 0x80)
        keep--;
    args_strn(call->args, a, "xml", xml, keep);
    if (keep < len || cut)
        args_bool(call->args, a, "xml_truncated", true);
}

/*
 * A task's SDDL (SchRpcRegisterTask, SchRpcSetSecurity, SchRpcCreateFolder):
 * its deny ACEs. A task's rights are a file's: FILE_READ_DATA, FILE_READ_EA,
 * FILE_READ_ATTRIBUTES, GENERIC_READ, GENERIC_ALL (SD_TASK_READ_RIGHTS)
 * denied to users or administrators hide it from schtasks /query and the
 * Task Scheduler (indicator hidden_task). READ_CONTROL is left out: every
 * generic file right (FW, FX too) carries it, so denying writes would count.
 */
static void task_sddl(struct worker *w, struct rpc_call *call, uint16_t a)
{
    uint16_t node = args_child(call->args, a, "sddl");
    const char *s = node == ARGS_NONE ? NULL : args_value(call->args, node);
    if (s)
        iface_sddl_arg(w, call, a, s, SD_TASK_READ_RIGHTS);
}

/* SchRpcRegisterTask (1): what task, from which XML, created or updated, as whom. */
static void req_register(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_unique_string(ar, a, ARG_PATH, n, true);
    task_xml(w, call, n, a);
    uint32_t flags = ndr_u32(n);
    args_ndr_unique_string(ar, a, "sddl", n, true);
    uint32_t logon = ndr_u32(n);
    uint32_t ncreds = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_flags(ar, a, "flags", flags, register_flags);
    args_enum(ar, a, "logon_type", logon, logon_types);
    task_sddl(w, call, a);
    /* validate-only registers nothing; update changes an existing task */
    if ((flags & 0x6) == 0 && (flags & 0x1)) {
        call->cls = RPC_CLASS_READ;
        call->class_detail = "validate_only";
    } else if ((flags & 0x6) == 0x4) {
        call->cls = RPC_CLASS_MODIFY;
        call->class_detail = "update";
    } else if ((flags & 0x6) == 0x6) {
        call->class_detail = "create_or_update";
    }
    if (ndr_ptr(n)) {
        /* TASK_USER_CRED[]: user names only; the passwords are never read into the record */
        uint64_t max = ndr_size(n);
        if (max != ncreds || max > 64)
            return iface_decode_failed(w, call, a);
        uint64_t user_ref[64], pw_ref[64];
        for (uint32_t i = 0; i < ncreds; i++) {
            user_ref[i] = ndr_ptr(n);
            pw_ref[i] = ndr_ptr(n);
            ndr_u32(n);
        }
        uint16_t creds = args_arr(ar, a, "credentials");
        for (uint32_t i = 0; i < ncreds && ndr_ok(n); i++) {
            uint16_t o = args_obj(ar, creds, NULL);
            if (user_ref[i])
                args_ndr_string(ar, o, "user", n, true);
            if (pw_ref[i]) {
                ndr_skip_string(n, true);
                args_bool(ar, o, "password_given", true);
            }
        }
    }
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}

/* SchRpcRegisterTask's answer: the path the task was registered under. */
static void res_register(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    (void)w;
    uint16_t r = args_section(call->args, "result");
    args_ndr_unique_string(call->args, r, "actual_path", n, true);
}

/* SchRpcRun (12): which task, with what arguments, as whom. */
static void req_run(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    args_ndr_string(ar, a, ARG_PATH, n, true);
    uint32_t argc = ndr_u32(n);
    if (!args_ndr_string_array(ar, a, ARG_ARGUMENTS, n, argc, true))
        return iface_decode_failed(w, call, a);
    uint32_t flags = ndr_u32(n), session = ndr_u32(n);
    args_ndr_unique_string(ar, a, "user", n, true);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_flags(ar, a, "flags", flags, run_flags);
    args_num(ar, a, "session_id", session);
}

/* Operations whose first parameter is the task or folder path ([string] or [unique]). */
static void dec_path(struct worker *w, struct rpc_call *call, struct ndr *n, bool unique)
{
    uint16_t a = args_section(call->args, "args");
    if (unique)
        args_ndr_unique_string(call->args, a, ARG_PATH, n, true);
    else
        args_ndr_string(call->args, a, ARG_PATH, n, true);
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}
static void req_path(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_path(w, c, n, false);
}
static void req_unique_path(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_path(w, c, n, true);
}

/* SchRpcDelete (13): path, flags. */
static void req_delete(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    dec_path(w, call, n, false);
    uint32_t flags = ndr_u32(n);
    if (ndr_ok(n))
        args_flags(call->args, args_section(call->args, "args"), "flags", flags, no_flags);
}

/* SchRpcEnableTask (19): path, enabled. */
static void req_enable(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    dec_path(w, call, n, false);
    uint32_t on = ndr_u32(n);
    if (ndr_ok(n))
        args_bool(call->args, args_section(call->args, "args"), "enabled", on != 0);
}

/* SchRpcSetSecurity (4): path, sddl, flags. SchRpcCreateFolder (3): path, [unique] sddl. */
static void req_security(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    dec_path(w, call, n, false);
    uint16_t a = args_section(call->args, "args");
    if (call->opnum == 3)
        args_ndr_unique_string(call->args, a, "sddl", n, true);
    else
        args_ndr_string(call->args, a, "sddl", n, true);
    uint32_t flags = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_flags(call->args, a, "flags", flags, no_flags);
    task_sddl(w, call, a);
}

/* SchRpcRename (14): path, new name. */
static void req_rename(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    dec_path(w, call, n, false);
    args_ndr_string(call->args, args_section(call->args, "args"), "new_name", n, true);
}

static const struct iface_op ops[] = {
    [0] = {"SchRpcHighestVersion", RPC_CLASS_OTHER, NULL, NULL},
    [1] = {"SchRpcRegisterTask", RPC_CLASS_CREATE, req_register, res_register},
    [2] = {"SchRpcRetrieveTask", RPC_CLASS_READ, req_path, NULL},
    [3] = {"SchRpcCreateFolder", RPC_CLASS_CREATE, req_security, NULL},
    [4] = {"SchRpcSetSecurity", RPC_CLASS_MODIFY, req_security, NULL},
    [5] = {"SchRpcGetSecurity", RPC_CLASS_READ, req_path, NULL},
    [6] = {"SchRpcEnumFolders", RPC_CLASS_READ, req_path, NULL},
    [7] = {"SchRpcEnumTasks", RPC_CLASS_READ, req_path, NULL},
    [8] = {"SchRpcEnumInstances", RPC_CLASS_READ, req_unique_path, NULL},
    [9] = {"SchRpcGetInstanceInfo", RPC_CLASS_READ, NULL, NULL},
    [10] = {"SchRpcStopInstance", RPC_CLASS_EXECUTE, NULL, NULL},
    [11] = {"SchRpcStop", RPC_CLASS_EXECUTE, req_unique_path, NULL},
    [12] = {"SchRpcRun", RPC_CLASS_EXECUTE, req_run, NULL},
    [13] = {"SchRpcDelete", RPC_CLASS_DELETE, req_delete, NULL},
    [14] = {"SchRpcRename", RPC_CLASS_MODIFY, req_rename, NULL},
    [15] = {"SchRpcScheduledRuntimes", RPC_CLASS_READ, req_path, NULL},
    [16] = {"SchRpcGetLastRunInfo", RPC_CLASS_READ, req_path, NULL},
    [17] = {"SchRpcGetTaskInfo", RPC_CLASS_READ, req_path, NULL},
    [18] = {"SchRpcGetNumberOfMissedRuns", RPC_CLASS_READ, req_path, NULL},
    [19] = {"SchRpcEnableTask", RPC_CLASS_MODIFY, req_enable, NULL},
};

const struct iface_def iface_tsch = {
    .uuid = UUID_LIT(0x86d35949, 0x83c9, 0x4044, 0xb4, 0x24, 0xdb, 0x36, 0x32, 0x31, 0xfd, 0x0c),
    .ver_major = 1,
    .ver_minor = 0,
    .name = "ITaskSchedulerService",
    .service = "ITaskSchedulerService",
    .spec = "MS-TSCH",
    .target = true,
    .pipes = "atsvc",
    .attack = "T1053.005",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
    .returns_hresult = true,
};
