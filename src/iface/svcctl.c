/* svcctl, MS-SCMR 3.1.4: the service control manager. */
#include <stdio.h>
#include <string.h>

#include "iface_internal.h"
#include "rpcsentry/argkeys.h"
#include "sddl.h"

#define NO_CHANGE 0xffffffffu

static const struct flag_name service_types[] = {
    {0x01, "kernel_driver"},        {0x02, "file_system_driver"},
    {0x10, "win32_own_process"},    {0x20, "win32_share_process"},
    {0x40, "user_service"},         {0x80, "user_service_instance"},
    {0x100, "interactive_process"}, {0, NULL},
};

static const struct flag_name start_types[] = {
    {0, "boot_start"},   {1, "system_start"}, {2, "auto_start"},
    {3, "demand_start"}, {4, "disabled"},     {0, NULL},
};

static const struct flag_name error_controls[] = {
    {0, "ignore"}, {1, "normal"}, {2, "severe"}, {3, "critical"}, {0, NULL},
};

static const struct flag_name scm_access[] = {
    {0xf003f, "all_access"},
    {0x0001, "connect"},
    {0x0002, "create_service"},
    {0x0004, "enumerate_service"},
    {0x0008, "lock"},
    {0x0010, "query_lock_status"},
    {0x0020, "modify_boot_config"},
    {0x10000000, "generic_all"},
    {0x20000000, "generic_execute"},
    {0x40000000, "generic_write"},
    {0x80000000, "generic_read"},
    {0x02000000, "maximum_allowed"},
    {0x00020000, "read_control"},
    {0, NULL},
};

static const struct flag_name service_access[] = {
    {0xf01ff, "all_access"},
    {0x0001, "query_config"},
    {0x0002, "change_config"},
    {0x0004, "query_status"},
    {0x0008, "enumerate_dependents"},
    {0x0010, "start"},
    {0x0020, "stop"},
    {0x0040, "pause_continue"},
    {0x0080, "interrogate"},
    {0x0100, "user_defined_control"},
    {0x10000, "delete"},
    {0x20000, "read_control"},
    {0x40000, "write_dac"},
    {0x80000, "write_owner"},
    {0x10000000, "generic_all"},
    {0x20000000, "generic_execute"},
    {0x40000000, "generic_write"},
    {0x80000000, "generic_read"},
    {0x02000000, "maximum_allowed"},
    {0, NULL},
};

static const struct flag_name controls[] = {
    {1, "stop"},          {2, "pause"},           {3, "continue"},   {4, "interrogate"},
    {5, "shutdown"},      {6, "paramchange"},     {7, "netbindadd"}, {8, "netbindremove"},
    {9, "netbindenable"}, {10, "netbinddisable"}, {0, NULL},
};

static const struct flag_name action_types[] = {
    {0, "none"}, {1, "restart"}, {2, "reboot"}, {3, "run_command"}, {0, NULL},
};

static const struct flag_name config2_levels[] = {
    {1, "description"},
    {2, "failure_actions"},
    {3, "delayed_auto_start"},
    {4, "failure_actions_flag"},
    {5, "service_sid"},
    {6, "required_privileges"},
    {7, "preshutdown"},
    {8, "trigger_info"},
    {9, "preferred_node"},
    {11, "launch_protected"},
    {0, NULL},
};

/* ---- handles: service names follow them from Open/Create into later calls ---- */

static void handle_put(struct worker *w, struct rpc_call *call, const uint8_t h[20], bool scm,
                       const char *name)
{
    static const uint8_t nil[20];
    if (memcmp(h, nil, 20) == 0)
        return;
    struct iface_state *st = iface_state_get(w, call);
    if (!st)
        return;
    if (!scm)
        st->unanswered_open[0] = '\0';
    struct iface_handle *e = iface_handle_slot(w, st, h);
    if (!e)
        return;
    e->scm = scm;
    snprintf(e->name, sizeof e->name, "%s", name ? name : "");
}

/* The handle a request starts with: names the service it is about, when known. */
static void read_service_handle(struct rpc_call *call, struct ndr *n, uint16_t args, uint8_t h[20])
{
    ndr_handle(n, h);
    struct iface_state *st = call->iface_state ? *call->iface_state : NULL;
    struct iface_handle *e = ndr_ok(n) ? iface_handle_find(st, h) : NULL;
    if (e && !e->scm && e->name[0]) {
        args_str(call->args, args, ARG_SERVICE_NAME, e->name);
    } else if (!e && st && st->unanswered_open[0]) {
        /* one-sided capture: the open's answer (the handle) was never seen; the
         * service opened last on this association is the likely one */
        args_str(call->args, args, ARG_SERVICE_NAME, st->unanswered_open);
        args_str(call->args, args, "service_name_source", "unanswered_open");
    }
}

/* An open or create request: its service until the answer maps a handle to it. */
static void note_open(struct worker *w, struct rpc_call *call)
{
    const char *svc = args_get(call->args, ARGS(ARG_SERVICE_NAME));
    struct iface_state *st = svc ? iface_state_get(w, call) : NULL;
    if (st)
        snprintf(st->unanswered_open, sizeof st->unanswered_open, "%s", svc);
}

/* ---- requests ---- */

static void dec_open_scm(struct worker *w, struct rpc_call *call, struct ndr *n, bool wide)
{
    uint16_t a = args_section(call->args, "args");
    if (call->opnum != 64)
        args_ndr_unique_string(call->args, a, "machine_name", n, wide);
    args_ndr_unique_string(call->args, a, "database", n, wide);
    uint32_t access = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_num(call->args, a, "access_mask", access);
    args_flags(call->args, a, "access", access, scm_access);
}
static void req_open_scm_w(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_open_scm(w, c, n, true);
}
static void req_open_scm_a(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_open_scm(w, c, n, false);
}

static void dec_open_service(struct worker *w, struct rpc_call *call, struct ndr *n, bool wide)
{
    uint16_t a = args_section(call->args, "args");
    uint8_t h[20];
    ndr_handle(n, h);
    args_ndr_string(call->args, a, ARG_SERVICE_NAME, n, wide);
    uint32_t access = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_num(call->args, a, "access_mask", access);
    args_flags(call->args, a, "access", access, service_access);
    note_open(w, call);
}
static void req_open_service_w(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_open_service(w, c, n, true);
}
static void req_open_service_a(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_open_service(w, c, n, false);
}

/* Skips a [unique, size_is()] byte array (dependencies, an encrypted password). */
static bool skip_unique_bytes(struct ndr *n)
{
    if (!ndr_ptr(n))
        return false;
    uint64_t size = ndr_size(n);
    if (size > rd_left(&n->c))
        rd_fail(&n->c);
    else
        rd_skip(&n->c, (size_t)size);
    return true;
}

/* RCreateServiceW/A (12, 24), RCreateServiceWOW64A/W (44, 45), RCreateWowService (60). */
static void dec_create(struct worker *w, struct rpc_call *call, struct ndr *n, bool wide)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    ndr_handle(n, h);
    args_ndr_string(ar, a, ARG_SERVICE_NAME, n, wide);
    args_ndr_unique_string(ar, a, "display_name", n, wide);
    uint32_t access = ndr_u32(n), type = ndr_u32(n), start = ndr_u32(n), err = ndr_u32(n);
    args_ndr_string(ar, a, ARG_BINARY_PATH, n, wide);
    args_ndr_unique_string(ar, a, "load_order_group", n, wide);
    if (ndr_ptr(n))
        ndr_u32(n);       /* lpdwTagId */
    skip_unique_bytes(n); /* lpDependencies */
    ndr_u32(n);
    args_ndr_unique_string(ar, a, ARG_START_NAME, n, wide);
    bool password = skip_unique_bytes(n); /* never decoded: a secret, encrypted anyway */
    ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_num(ar, a, "access_mask", access);
    args_flags(ar, a, "service_type", type, service_types);
    args_enum(ar, a, "start_type", start, start_types);
    args_enum(ar, a, "error_control", err, error_controls);
    args_bool(ar, a, "password_set", password);
    if (call->opnum == 60) {
        uint16_t wow = ndr_u16(n);
        if (ndr_ok(n))
            args_num(ar, a, "wow_type", wow);
    }
    note_open(w, call);
}
static void req_create_w(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_create(w, c, n, true);
}
static void req_create_a(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_create(w, c, n, false);
}

/* RChangeServiceConfigW/A (11, 23): what changed, and to what. */
static void dec_change(struct worker *w, struct rpc_call *call, struct ndr *n, bool wide)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    read_service_handle(call, n, a, h);
    uint32_t type = ndr_u32(n), start = ndr_u32(n), err = ndr_u32(n);
    char bin[ARG_STR_MAX], group[256], startname[256], display[256];
    bool has_bin = ndr_unique_string(n, wide, bin, sizeof bin, NULL);
    bool has_group = ndr_unique_string(n, wide, group, sizeof group, NULL);
    if (ndr_ptr(n))
        ndr_u32(n);
    bool has_deps = skip_unique_bytes(n);
    ndr_u32(n);
    bool has_start = ndr_unique_string(n, wide, startname, sizeof startname, NULL);
    bool has_pw = skip_unique_bytes(n);
    ndr_u32(n);
    bool has_display = ndr_unique_string(n, wide, display, sizeof display, NULL);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    uint16_t ch = args_arr(ar, a, "changed");
    if (type != NO_CHANGE) {
        args_str(ar, ch, NULL, "service_type");
        args_flags(ar, a, "service_type", type, service_types);
    }
    if (start != NO_CHANGE) {
        args_str(ar, ch, NULL, "start_type");
        args_enum(ar, a, "start_type", start, start_types);
    }
    if (err != NO_CHANGE) {
        args_str(ar, ch, NULL, "error_control");
        args_enum(ar, a, "error_control", err, error_controls);
    }
    if (has_bin) {
        args_str(ar, ch, NULL, ARG_BINARY_PATH);
        args_str(ar, a, ARG_BINARY_PATH, bin);
    }
    if (has_group) {
        args_str(ar, ch, NULL, "load_order_group");
        args_str(ar, a, "load_order_group", group);
    }
    if (has_deps)
        args_str(ar, ch, NULL, "dependencies");
    if (has_start) {
        args_str(ar, ch, NULL, ARG_START_NAME);
        args_str(ar, a, ARG_START_NAME, startname);
    }
    if (has_pw)
        args_str(ar, ch, NULL, "password");
    if (has_display) {
        args_str(ar, ch, NULL, "display_name");
        args_str(ar, a, "display_name", display);
    }
}
static void req_change_w(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_change(w, c, n, true);
}
static void req_change_a(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_change(w, c, n, false);
}

/*
 * SERVICE_FAILURE_ACTIONS: the command run when the service fails is a way
 * to execute something. NDR puts the deferred pointees in member order
 * (reboot message, command, actions); impacket writes the actions array
 * first, so when member order does not parse, that order is tried.
 */
static bool failure_actions(struct rpc_args *ar, uint16_t a, struct ndr n, bool wide,
                            bool actions_first)
{
    uint32_t reset = ndr_u32(&n);
    uint64_t msg = ndr_ptr(&n), cmd = ndr_ptr(&n);
    uint32_t count = ndr_u32(&n);
    uint64_t acts = ndr_ptr(&n);
    char rebootmsg[512] = "", command[ARG_STR_MAX] = "";
    uint32_t types[16], delays[16], nacts = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool do_actions = (pass == 0) == actions_first;
        if (!do_actions) {
            if (msg)
                ndr_string(&n, wide, rebootmsg, sizeof rebootmsg, NULL);
            if (cmd)
                ndr_string(&n, wide, command, sizeof command, NULL);
        } else if (acts) {
            uint64_t max = ndr_size(&n);
            if (max != count || max > 1024)
                return false;
            for (uint32_t i = 0; i < count; i++) {
                uint32_t t = ndr_u32(&n), d = ndr_u32(&n);
                if (nacts < 16)
                    types[nacts] = t, delays[nacts] = d, nacts++;
            }
        }
    }
    if (!ndr_ok(&n))
        return false;
    uint16_t fa = args_obj(ar, a, "failure_actions");
    args_num(ar, fa, "reset_period", reset);
    if (msg)
        args_str(ar, fa, "reboot_message", rebootmsg);
    if (cmd)
        args_str(ar, fa, ARG_COMMAND, command);
    uint16_t arr = args_arr(ar, fa, ARG_ACTIONS);
    for (uint32_t i = 0; i < nacts; i++) {
        uint16_t o = args_obj(ar, arr, NULL);
        args_enum(ar, o, "type", types[i], action_types);
        args_num(ar, o, "delay_ms", delays[i]);
    }
    return true;
}

/* RChangeServiceConfig2W/A (37, 36). */
static void dec_change2(struct worker *w, struct rpc_call *call, struct ndr *n, bool wide)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    read_service_handle(call, n, a, h);
    uint32_t level = ndr_u32(n);
    uint32_t tag = ndr_u32(n);
    uint64_t arm = ndr_ptr(n);
    if (!ndr_ok(n) || tag != level)
        return iface_decode_failed(w, call, a);
    args_enum(ar, a, "info_level", level, config2_levels);
    if (!arm)
        return;
    if (level == 1) {
        if (ndr_ptr(n))
            args_ndr_string(ar, a, "description", n, wide);
    } else if (level == 2) {
        if (!failure_actions(ar, a, *n, wide, false) && !failure_actions(ar, a, *n, wide, true))
            return iface_decode_failed(w, call, a);
        return;
    } else if (level == 3 || level == 4) {
        args_bool(ar, a, level == 3 ? "delayed_auto_start" : "failure_actions_on_non_crash",
                  ndr_u32(n) != 0);
    }
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}
static void req_change2_w(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_change2(w, c, n, true);
}
static void req_change2_a(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_change2(w, c, n, false);
}

/* RStartServiceW/A (19, 31): the arguments passed to the service. */
static void dec_start(struct worker *w, struct rpc_call *call, struct ndr *n, bool wide)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    read_service_handle(call, n, a, h);
    uint32_t argc = ndr_u32(n);
    if (!args_ndr_string_array(ar, a, ARG_ARGUMENTS, n, argc, wide) || !ndr_ok(n))
        iface_decode_failed(w, call, a);
}
static void req_start_w(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_start(w, c, n, true);
}
static void req_start_a(struct worker *w, struct rpc_call *c, struct ndr *n)
{
    dec_start(w, c, n, false);
}

/* RControlService (1) and RControlServiceExA/W (50, 51). */
static void req_control(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    uint8_t h[20];
    read_service_handle(call, n, a, h);
    uint32_t code = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_enum(call->args, a, "control", code, controls);
    args_num(call->args, a, "control_code", code);
    if (code == 4) /* SERVICE_CONTROL_INTERROGATE only asks for the status */
        call->cls = RPC_CLASS_READ;
}

/* Any call whose first argument is a service handle: name the service. */
static void req_handle(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    uint8_t h[20];
    read_service_handle(call, n, a, h);
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}

static const struct flag_name security_information[] = {
    {0x01, "owner"}, {0x02, "group"}, {0x04, "dacl"}, {0x08, "sacl"}, {0x10, "label"}, {0, NULL},
};

/*
 * RSetServiceObjectSecurity (5): the new descriptor, as SDDL. A DACL that
 * denies querying the service to users, services or administrators hides it
 * from sc query and Get-Service (SD_SERVICE_READ_RIGHTS, indicator
 * hidden_service).
 */
static void req_set_security(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    uint8_t h[20];
    read_service_handle(call, n, a, h);
    uint32_t info = ndr_u32(n);
    const uint8_t *sd = NULL;
    uint64_t size = 0;
    /* the IDL's [ref] array; impacket (0.10) sends a referent id before it: both are read */
    for (int referent = 0; referent < 2 && !sd; referent++) {
        struct ndr t = *n;
        if (referent)
            ndr_ptr(&t);
        size = ndr_size(&t);
        if (!ndr_ok(&t) || size > rd_left(&t.c))
            continue;
        const uint8_t *p = rd_take(&t.c, (size_t)size);
        if (ndr_u32(&t) == size && ndr_ok(&t))
            sd = p, *n = t;
    }
    if (!sd)
        return iface_decode_failed(w, call, a);
    args_flags(call->args, a, "security_information", info, security_information);
    args_num(call->args, a, "security_descriptor_size", size);
    iface_sd_arg(w, call, a, sd, (size_t)size, SD_SERVICE_READ_RIGHTS);
}

/* RQueryServiceObjectSecurity (4): which parts were asked for. */
static void req_query_security(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    uint8_t h[20];
    read_service_handle(call, n, a, h);
    uint32_t info = ndr_u32(n);
    uint32_t cb = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    args_flags(call->args, a, "security_information", info, security_information);
    args_num(call->args, a, "buffer_size", cb);
}

/* ---- responses: handles and their names ---- */

/* RQueryServiceObjectSecurity's answer: the descriptor, when it was given. */
static void res_query_security(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    if (!call->has_status || call->status != 0)
        return; /* too small a buffer (ERROR_INSUFFICIENT_BUFFER): no descriptor */
    uint16_t r = args_section(call->args, "result");
    uint64_t size = ndr_size(n);
    if (!ndr_ok(n) || size > rd_left(&n->c))
        return iface_decode_failed(w, call, r);
    const uint8_t *sd = rd_take(&n->c, (size_t)size);
    if (size)
        iface_sd_arg(w, call, r, sd, (size_t)size, SD_SERVICE_READ_RIGHTS);
}

static void res_open_scm(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint8_t h[20];
    ndr_handle(n, h);
    if (ndr_ok(n))
        handle_put(w, call, h, true, args_get(call->args, "args.machine_name"));
}

static void res_open_service(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint8_t h[20];
    ndr_handle(n, h);
    if (ndr_ok(n))
        handle_put(w, call, h, false, args_get(call->args, ARGS(ARG_SERVICE_NAME)));
}

static void res_create(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    if (ndr_ptr(n))
        ndr_u32(n); /* lpdwTagId */
    res_open_service(w, call, n);
}

static void res_close(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    (void)w;
    (void)n;
    /* the request named the handle; it is closed now (the response returns a zeroed one) */
    if (call->req_handle_valid)
        iface_handle_drop(call, call->req_handle);
}

static void req_close(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    read_service_handle(call, n, a, call->req_handle);
    call->req_handle_valid = ndr_ok(n);
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}

#define UNUSED_OP(n) [n] = {"Opnum" #n "NotUsedOnWire", RPC_CLASS_OTHER, NULL, NULL}
#define H req_handle

static const struct iface_op ops[] = {
    [0] = {"RCloseServiceHandle", RPC_CLASS_OTHER, req_close, res_close},
    [1] = {"RControlService", RPC_CLASS_EXECUTE, req_control, NULL},
    [2] = {"RDeleteService", RPC_CLASS_DELETE, H, NULL},
    [3] = {"RLockServiceDatabase", RPC_CLASS_OTHER, NULL, NULL},
    [4] = {"RQueryServiceObjectSecurity", RPC_CLASS_READ, req_query_security, res_query_security},
    [5] = {"RSetServiceObjectSecurity", RPC_CLASS_MODIFY, req_set_security, NULL},
    [6] = {"RQueryServiceStatus", RPC_CLASS_READ, H, NULL},
    [7] = {"RSetServiceStatus", RPC_CLASS_OTHER, NULL, NULL},
    [8] = {"RUnlockServiceDatabase", RPC_CLASS_OTHER, NULL, NULL},
    [9] = {"RNotifyBootConfigStatus", RPC_CLASS_OTHER, NULL, NULL},
    UNUSED_OP(10),
    [11] = {"RChangeServiceConfigW", RPC_CLASS_MODIFY, req_change_w, NULL},
    [12] = {"RCreateServiceW", RPC_CLASS_CREATE, req_create_w, res_create},
    [13] = {"REnumDependentServicesW", RPC_CLASS_READ, H, NULL},
    [14] = {"REnumServicesStatusW", RPC_CLASS_READ, NULL, NULL},
    [15] = {"ROpenSCManagerW", RPC_CLASS_OTHER, req_open_scm_w, res_open_scm},
    [16] = {"ROpenServiceW", RPC_CLASS_OTHER, req_open_service_w, res_open_service},
    [17] = {"RQueryServiceConfigW", RPC_CLASS_READ, H, NULL},
    [18] = {"RQueryServiceLockStatusW", RPC_CLASS_READ, NULL, NULL},
    [19] = {"RStartServiceW", RPC_CLASS_EXECUTE, req_start_w, NULL},
    [20] = {"RGetServiceDisplayNameW", RPC_CLASS_READ, NULL, NULL},
    [21] = {"RGetServiceKeyNameW", RPC_CLASS_READ, NULL, NULL},
    UNUSED_OP(22),
    [23] = {"RChangeServiceConfigA", RPC_CLASS_MODIFY, req_change_a, NULL},
    [24] = {"RCreateServiceA", RPC_CLASS_CREATE, req_create_a, res_create},
    [25] = {"REnumDependentServicesA", RPC_CLASS_READ, H, NULL},
    [26] = {"REnumServicesStatusA", RPC_CLASS_READ, NULL, NULL},
    [27] = {"ROpenSCManagerA", RPC_CLASS_OTHER, req_open_scm_a, res_open_scm},
    [28] = {"ROpenServiceA", RPC_CLASS_OTHER, req_open_service_a, res_open_service},
    [29] = {"RQueryServiceConfigA", RPC_CLASS_READ, H, NULL},
    [30] = {"RQueryServiceLockStatusA", RPC_CLASS_READ, NULL, NULL},
    [31] = {"RStartServiceA", RPC_CLASS_EXECUTE, req_start_a, NULL},
    [32] = {"RGetServiceDisplayNameA", RPC_CLASS_READ, NULL, NULL},
    [33] = {"RGetServiceKeyNameA", RPC_CLASS_READ, NULL, NULL},
    UNUSED_OP(34),
    [35] = {"REnumServiceGroupW", RPC_CLASS_READ, NULL, NULL},
    [36] = {"RChangeServiceConfig2A", RPC_CLASS_MODIFY, req_change2_a, NULL},
    [37] = {"RChangeServiceConfig2W", RPC_CLASS_MODIFY, req_change2_w, NULL},
    [38] = {"RQueryServiceConfig2A", RPC_CLASS_READ, H, NULL},
    [39] = {"RQueryServiceConfig2W", RPC_CLASS_READ, H, NULL},
    [40] = {"RQueryServiceStatusEx", RPC_CLASS_READ, H, NULL},
    [41] = {"REnumServicesStatusExA", RPC_CLASS_READ, NULL, NULL},
    [42] = {"REnumServicesStatusExW", RPC_CLASS_READ, NULL, NULL},
    UNUSED_OP(43),
    [44] = {"RCreateServiceWOW64A", RPC_CLASS_CREATE, req_create_a, res_create},
    [45] = {"RCreateServiceWOW64W", RPC_CLASS_CREATE, req_create_w, res_create},
    UNUSED_OP(46),
    [47] = {"RNotifyServiceStatusChange", RPC_CLASS_READ, H, NULL},
    [48] = {"RGetNotifyResults", RPC_CLASS_READ, NULL, NULL},
    [49] = {"RCloseNotifyHandle", RPC_CLASS_OTHER, NULL, NULL},
    [50] = {"RControlServiceExA", RPC_CLASS_EXECUTE, req_control, NULL},
    [51] = {"RControlServiceExW", RPC_CLASS_EXECUTE, req_control, NULL},
    UNUSED_OP(52),
    UNUSED_OP(53),
    UNUSED_OP(54),
    UNUSED_OP(55),
    [56] = {"RQueryServiceConfigEx", RPC_CLASS_READ, H, NULL},
    UNUSED_OP(57),
    UNUSED_OP(58),
    UNUSED_OP(59),
    [60] = {"RCreateWowService", RPC_CLASS_CREATE, req_create_w, res_create},
    UNUSED_OP(61),
    UNUSED_OP(62),
    UNUSED_OP(63),
    [64] = {"ROpenSCManager2", RPC_CLASS_OTHER, req_open_scm_w, res_open_scm},
};

const struct iface_def iface_svcctl = {
    .uuid = UUID_LIT(0x367abb81, 0x9844, 0x35f1, 0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03),
    .ver_major = 2,
    .ver_minor = 0,
    .name = "svcctl",
    .service = "svcctl",
    .spec = "MS-SCMR",
    .target = true,
    .pipes = "svcctl ntsvcs",
    .attack = "T1543.003",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
    .suricata_names = SURI_NAMES_STRIP_R,
};
