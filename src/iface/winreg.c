/*
 * winreg, MS-RRP 3.1.5: the remote registry (and MS-RSP's shutdown calls,
 * which share the interface). Key handles are followed from the root opens
 * and BaseRegOpenKey/BaseRegCreateKey to full paths; values are decoded by
 * their type. Writes that amount to a service or a task are routed: an
 * ImagePath set on a key made under Services is a service created through
 * the registry, as RCreateServiceW's is through the SCM.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "iface_internal.h"
#include "rpcsentry/argkeys.h"
#include "rpcsentry/text.h"
#include "rpcsentry/uuid.h"
#include "sddl.h"

#define REG_HEX_MAX 256  /* bytes of binary data written as hex */
#define REG_MULTI_MAX 32 /* strings of a REG_MULTI_SZ listed */
#define REG_PATH_MAX 256 /* a key path kept for a handle (iface_handle.name) */

/* iface_handle.reg */
#define HK_KEY 0x01     /* a registry key */
#define HK_CREATED 0x02 /* BaseRegCreateKey answered REG_CREATED_NEW_KEY */
#define HK_EXISTED 0x04 /* opened, or REG_OPENED_EXISTING_KEY */

static const struct flag_name value_types[] = {
    {0, "REG_NONE"},
    {1, "REG_SZ"},
    {2, "REG_EXPAND_SZ"},
    {3, "REG_BINARY"},
    {4, "REG_DWORD"},
    {5, "REG_DWORD_BIG_ENDIAN"},
    {6, "REG_LINK"},
    {7, "REG_MULTI_SZ"},
    {8, "REG_RESOURCE_LIST"},
    {9, "REG_FULL_RESOURCE_DESCRIPTOR"},
    {10, "REG_RESOURCE_REQUIREMENTS_LIST"},
    {11, "REG_QWORD"},
    {0, NULL},
};

static const struct flag_name key_access[] = {
    {0xf003f, "all_access"},
    {0x0001, "query_value"},
    {0x0002, "set_value"},
    {0x0004, "create_sub_key"},
    {0x0008, "enumerate_sub_keys"},
    {0x0010, "notify"},
    {0x0020, "create_link"},
    {0x0100, "wow64_64key"},
    {0x0200, "wow64_32key"},
    {0x10000, "delete"},
    {0x20000, "read_control"},
    {0x40000, "write_dac"},
    {0x80000, "write_owner"},
    {0x02000000, "maximum_allowed"},
    {0x10000000, "generic_all"},
    {0x20000000, "generic_execute"},
    {0x40000000, "generic_write"},
    {0x80000000, "generic_read"},
    {0, NULL},
};

static const struct flag_name key_options[] = {
    {0x1, "volatile"}, {0x2, "create_link"}, {0x4, "backup_restore"}, {0x8, "open_link"}, {0, NULL},
};

static const struct flag_name security_information[] = {
    {0x01, "owner"},
    {0x02, "group"},
    {0x04, "dacl"},
    {0x08, "sacl"},
    {0x10, "label"},
    {0x20, "attribute"},
    {0x40, "scope"},
    {0x80, "process_trust_label"},
    {0x10000, "backup"},
    {0x80000000, "protected_dacl"},
    {0x40000000, "protected_sacl"},
    {0x20000000, "unprotected_dacl"},
    {0x10000000, "unprotected_sacl"},
    {0, NULL},
};

static const struct flag_name restore_flags[] = {
    {0x1, "whole_hive_volatile"},
    {0x2, "refresh_hive"},
    {0x4, "no_lazy_flush"},
    {0x8, "force_restore"},
    {0, NULL},
};

static const struct flag_name save_flags[] = {
    {0x1, "standard_format"},
    {0x2, "latest_format"},
    {0x4, "no_compression"},
    {0, NULL},
};

static const struct flag_name service_types[] = {
    {0x01, "kernel_driver"},       {0x02, "file_system_driver"},   {0x10, "win32_own_process"},
    {0x20, "win32_share_process"}, {0x100, "interactive_process"}, {0, NULL},
};

static const struct flag_name start_types[] = {
    {0, "boot_start"},   {1, "system_start"}, {2, "auto_start"},
    {3, "demand_start"}, {4, "disabled"},     {0, NULL},
};

/* The root key an open names (by opnum). */
static const char *root_name(uint16_t opnum)
{
    switch (opnum) {
    case 0: return "HKCR";
    case 1: return "HKCU";
    case 2: return "HKLM";
    case 3: return "HKPD";
    case 4: return "HKU";
    case 27: return "HKCC";
    case 28: return "HKDD";
    case 32: return "HKPT";
    case 33: return "HKPN";
    default: return NULL;
    }
}

/* ---- reading ---- */

/*
 * An RRP_UNICODE_STRING: Length and MaximumLength (bytes), a [unique] pointer,
 * then (standing alone, as every one here does) the conformant varying
 * characters. False when the buffer is NULL or the stub is short.
 */
static bool rrp_string(struct ndr *n, char *out, size_t outsz, bool *cut, uint64_t *chars)
{
    out[0] = '\0';
    *cut = false;
    *chars = 0;
    rd_align(&n->c, n->ndr64 ? 8 : 4);
    ndr_u16(n); /* Length */
    ndr_u16(n); /* MaximumLength */
    uint64_t ptr = ndr_ptr(n);
    if (!ndr_ok(n) || !ptr)
        return false;
    ndr_string_len(n, true, out, outsz, cut, chars);
    return ndr_ok(n);
}

/* A string read from the stub, kept until its place in the arguments comes. */
struct rstr {
    bool has, cut;
    uint64_t chars;
    char s[ARG_STR_MAX];
};

static bool read_rrp(struct ndr *n, struct rstr *r)
{
    r->has = rrp_string(n, r->s, sizeof r->s, &r->cut, &r->chars);
    if (!r->has)
        r->s[0] = '\0';
    return r->has;
}

static void put_rrp(struct rpc_args *ar, uint16_t a, const char *name, const struct rstr *r)
{
    if (!r->has)
        return;
    args_str(ar, a, name, r->s);
    if (r->cut)
        args_cut(ar, a, name, r->chars);
}

/* An RRP_UNICODE_STRING into the arguments as name (when its buffer is there). */
static bool arg_rrp(struct rpc_args *ar, uint16_t a, const char *name, struct ndr *n,
                    struct rstr *r)
{
    read_rrp(n, r);
    put_rrp(ar, a, name, r);
    return r->has;
}

/* Skips an RPC_SECURITY_DESCRIPTOR (pointer, cbIn, cbOut, then the bytes); their count,
   and where they start in *bytes when asked. */
static uint64_t security_descriptor(struct ndr *n, const uint8_t **bytes)
{
    rd_align(&n->c, n->ndr64 ? 8 : 4);
    uint64_t ptr = ndr_ptr(n);
    ndr_u32(n); /* cbInSecurityDescriptor */
    ndr_u32(n); /* cbOutSecurityDescriptor */
    if (!ndr_ok(n) || !ptr)
        return 0;
    uint64_t max = ndr_size(n), off = ndr_size(n), actual = ndr_size(n);
    if (!ndr_ok(n) || off > max || actual > max - off || actual > rd_left(&n->c)) {
        rd_fail(&n->c);
        return 0;
    }
    const uint8_t *p = rd_take(&n->c, (size_t)actual);
    if (bytes)
        *bytes = p;
    return actual;
}

/* Skips a [unique] RPC_SECURITY_ATTRIBUTES (nLength, the descriptor, bInheritHandle). */
static void security_attributes(struct ndr *n)
{
    if (!ndr_ptr(n))
        return;
    ndr_u32(n); /* nLength */
    rd_align(&n->c, n->ndr64 ? 8 : 4);
    uint64_t ptr = ndr_ptr(n);
    ndr_u32(n);
    ndr_u32(n);
    ndr_u8(n); /* bInheritHandle */
    if (!ndr_ok(n) || !ptr)
        return;
    uint64_t max = ndr_size(n), off = ndr_size(n), actual = ndr_size(n);
    if (!ndr_ok(n) || off > max || actual > max - off || actual > rd_left(&n->c))
        rd_fail(&n->c);
    else
        rd_skip(&n->c, (size_t)actual);
}

/* ---- key paths ---- */

/* The key entry of handle h, or NULL. */
static struct iface_handle *key_entry(struct rpc_call *call, const uint8_t h[20])
{
    struct iface_state *st = call->iface_state ? *call->iface_state : NULL;
    struct iface_handle *e = iface_handle_find(st, h);
    return e && (e->reg & HK_KEY) ? e : NULL;
}

/* The handle a request starts with, and its key's entry when known. */
static struct iface_handle *read_key(struct rpc_call *call, struct ndr *n, uint8_t h[20])
{
    ndr_handle(n, h);
    return ndr_ok(n) ? key_entry(call, h) : NULL;
}

/* base\sub into out (sub's leading and trailing backslashes dropped); false when it
   does not fit or base is unknown. */
static bool join(char *out, size_t outsz, const char *base, const char *sub)
{
    if (!base || !base[0])
        return false;
    while (*sub == '\\')
        sub++;
    size_t sl = strlen(sub);
    while (sl && sub[sl - 1] == '\\')
        sl--;
    int k = sl ? snprintf(out, outsz, "%s\\%.*s", base, (int)sl, sub)
               : snprintf(out, outsz, "%s", base);
    return k >= 0 && (size_t)k < outsz;
}

/* The key's path as args.key: the handle's, or the handle's and a subkey's. */
static void arg_key(struct rpc_args *ar, uint16_t a, const struct iface_handle *e, const char *sub,
                    char *path, size_t pathsz)
{
    path[0] = '\0';
    if (e && join(path, pathsz, e->name, sub ? sub : ""))
        args_str(ar, a, "key", path);
    else
        path[0] = '\0';
}

static bool prefix_ci(const char **s, const char *p)
{
    size_t n = strlen(p);
    if (strncasecmp(*s, p, n) != 0)
        return false;
    *s += n;
    return true;
}

/*
 * HKLM\SYSTEM\CurrentControlSet\Services\<name>[\rest] (or ControlSet00N):
 * the service's name into name, *rest what follows it ("" or "\Parameters").
 */
static bool service_key(const char *path, char *name, size_t namesz, const char **rest)
{
    const char *p = path;
    if (!prefix_ci(&p, "HKLM\\SYSTEM\\"))
        return false;
    if (!prefix_ci(&p, "CurrentControlSet\\")) {
        if (!prefix_ci(&p, "ControlSet"))
            return false;
        for (int i = 0; i < 3; i++, p++)
            if (*p < '0' || *p > '9')
                return false;
        if (*p++ != '\\')
            return false;
    }
    if (!prefix_ci(&p, "Services\\"))
        return false;
    size_t len = strcspn(p, "\\");
    if (len == 0 || len >= namesz)
        return false;
    memcpy(name, p, len);
    name[len] = '\0';
    *rest = p + len;
    return true;
}

/* HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tree\<task>: the
   task's path ("\<task>") into task. */
static bool task_tree_key(const char *path, char *task, size_t tasksz)
{
    const char *p = path;
    if (!prefix_ci(&p, "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\"
                       "TaskCache\\Tree\\") ||
        !*p)
        return false;
    int k = snprintf(task, tasksz, "\\%s", p);
    return k >= 0 && (size_t)k < tasksz;
}

/* ...\Schedule\TaskCache\Tasks\{GUID}: the scheduler's record of one task (its GUID). */
static bool task_record_key(const char *path, char *guid, size_t n)
{
    const char *p = path;
    if (!prefix_ci(&p, "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\"
                       "TaskCache\\Tasks\\") ||
        *p != '{' || strchr(p, '\\'))
        return false;
    int k = snprintf(guid, n, "%s", p);
    return k > 0 && (size_t)k < n;
}

/* A counted UTF-16LE string of the Actions blob: a 32-bit byte count, then the units. */
static bool blob_str(struct rd *r, char *out, size_t n)
{
    uint32_t len = rd_u32le(r);
    if (!rd_ok(r) || len > rd_left(r) || (len & 1))
        return false;
    struct rd s = rd_sub(r, len);
    utf16le_to_utf8(&s, len / 2, out, n, NULL);
    return true;
}

/* blob_str into the args as key (skipped when empty). */
static bool blob_arg(struct rpc_args *ar, uint16_t obj, const char *key, struct rd *r)
{
    char s[ARG_STR_MAX];
    if (!blob_str(r, s, sizeof s))
        return false;
    if (s[0])
        args_str(ar, obj, key, s);
    return true;
}

/*
 * The Actions value of a TaskCache\Tasks\{GUID} key (REG_BINARY): what the scheduler runs
 * for that task, written by the scheduler itself, or by whoever makes a task without
 * it. A 16-bit version (1 to 3), the actions' context (version 3), then actions to the
 * end, each a 16-bit kind (0x6666 exec, 0x7777 COM handler, 0x8888 e-mail, 0x9999
 * message box), an id and its fields. Into args.task.actions as the task XML's are.
 * False when the blob is not one.
 */
static bool task_actions_blob(struct rpc_args *ar, uint16_t task, struct rd d)
{
    uint16_t version = rd_u16le(&d);
    if (!rd_ok(&d) || version < 1 || version > 3)
        return false;
    args_num(ar, task, "actions_version", version);
    if (version == 3 && !blob_arg(ar, task, "actions_context", &d))
        return false;
    uint16_t arr = ARGS_NONE;
    for (unsigned i = 0; rd_left(&d) > 0; i++) {
        uint16_t kind = rd_u16le(&d);
        if (!rd_ok(&d) || i >= 32)
            return false;
        if (arr == ARGS_NONE)
            arr = args_arr(ar, task, ARG_ACTIONS);
        uint16_t act = args_obj(ar, arr, NULL);
        char id[ARG_STR_MAX];
        if (!blob_str(&d, id, sizeof id))
            return false;
        switch (kind) {
        case 0x6666:
            args_str(ar, act, "type", "exec");
            if (!blob_arg(ar, act, ARG_COMMAND, &d) || !blob_arg(ar, act, ARG_ARGUMENTS, &d) ||
                !blob_arg(ar, act, "working_directory", &d))
                return false;
            if (version == 3)
                rd_skip(&d, 2); /* flags */
            break;
        case 0x7777: {
            args_str(ar, act, "type", "com_handler");
            struct uuid u = rd_uuid(&d, true);
            char us[UUID_STR_LEN];
            uuid_fmt(&u, us);
            args_str(ar, act, "class_id", us);
            if (!blob_arg(ar, act, "data", &d))
                return false;
            break;
        }
        case 0x8888: {
            args_str(ar, act, "type", "send_email");
            static const char *const fields[] = {"from",     "to",     "cc",      "bcc",
                                                 "reply_to", "server", "subject", "body"};
            for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
                if (!blob_arg(ar, act, fields[f], &d))
                    return false;
            uint32_t files = rd_u32le(&d);
            char skip[8];
            for (uint32_t f = 0; rd_ok(&d) && f < files; f++)
                if (!blob_str(&d, skip, sizeof skip))
                    return false;
            uint32_t headers = rd_u32le(&d);
            for (uint32_t f = 0; rd_ok(&d) && f < 2 * headers; f++)
                if (!blob_str(&d, skip, sizeof skip))
                    return false;
            break;
        }
        case 0x9999:
            args_str(ar, act, "type", "show_message");
            if (!blob_arg(ar, act, "caption", &d) || !blob_arg(ar, act, "content", &d))
                return false;
            break;
        default: return false;
        }
        if (id[0])
            args_str(ar, act, "id", id);
        if (!rd_ok(&d))
            return false;
    }
    return true;
}

static void route_service(struct rpc_call *call, const char *name)
{
    call->route = RPC_ROUTE_REGISTRY;
    call->route_attack[0] = "T1543.003";
    call->route_attack[1] = NULL;
    args_str(call->args, args_section(call->args, "args"), ARG_SERVICE_NAME, name);
}

/* A task hidden through its TaskCache\Tree key (its SD deleted, its Index zeroed). */
static void route_hidden_task(struct rpc_call *call, const char *task, const char *how)
{
    uint16_t a = args_section(call->args, "args");
    call->route = RPC_ROUTE_REGISTRY;
    call->route_attack[0] = "T1564";
    call->route_attack[1] = "T1053.005";
    args_str(call->args, a, ARG_PATH, task);
    args_str(call->args, a, ARG_HIDDEN_BY, how);
}

/* ---- service keys made lately, across connections ---- */

#define REG_RECENT_US (600ULL * 1000000) /* as long as a story's window */

/* The call's server and client: a key made by one client is remembered for that client
   (with several workers, each pair of hosts is one worker's, as stories are). */
static const uint8_t *server_of(const struct rpc_call *call)
{
    const struct flow_key *k = &call->transport->flow->key;
    return k->addr[1 - (call->client_ep & 1)];
}

static const uint8_t *client_of(const struct rpc_call *call)
{
    const struct flow_key *k = &call->transport->flow->key;
    return k->addr[call->client_ep & 1];
}

static void lower_name(char *out, size_t outsz, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < outsz; i++)
        out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    out[i] = '\0';
}

static void recent_made(struct worker *w, const struct rpc_call *call, const char *name)
{
    unsigned i = w->reg_recent_next++ % WORKER_REG_RECENT;
    memcpy(w->reg_recent[i].server, server_of(call), 16);
    memcpy(w->reg_recent[i].client, client_of(call), 16);
    w->reg_recent[i].ts_us = call->req_ts_us ? call->req_ts_us : w->now_us;
    lower_name(w->reg_recent[i].name, sizeof w->reg_recent[i].name, name);
}

/* Was the service's key made on this server by this client lately? Forgotten once asked: a second
   ImagePath is a change. */
static bool recent_taken(struct worker *w, const struct rpc_call *call, const char *name)
{
    char low[sizeof w->reg_recent[0].name];
    lower_name(low, sizeof low, name);
    uint64_t now = call->req_ts_us ? call->req_ts_us : w->now_us;
    for (unsigned i = 0; i < WORKER_REG_RECENT; i++) {
        if (!w->reg_recent[i].name[0] || strcmp(w->reg_recent[i].name, low) != 0 ||
            memcmp(w->reg_recent[i].server, server_of(call), 16) != 0 ||
            memcmp(w->reg_recent[i].client, client_of(call), 16) != 0)
            continue;
        bool fresh = now >= w->reg_recent[i].ts_us && now - w->reg_recent[i].ts_us <= REG_RECENT_US;
        w->reg_recent[i].name[0] = '\0';
        return fresh;
    }
    return false;
}

/* ---- values ---- */

/* Data as its type says: text, a list, a number, or hex (capped). Text into text. */
static void arg_data(struct rpc_args *ar, uint16_t a, uint32_t type, struct rd d, size_t len,
                     char *text, size_t textsz)
{
    text[0] = '\0';
    if ((type == 1 || type == 2 || type == 6) && len % 2 == 0) {
        bool cut;
        struct rd s = d;
        ndr_text(&s, len / 2, true, true, text, textsz, &cut);
        args_str(ar, a, "data", text);
        if (cut) {
            uint64_t units = len / 2;
            while (units && rd_peek(&d, (size_t)(units * 2 - 2)) == 0 &&
                   rd_peek(&d, (size_t)(units * 2 - 1)) == 0)
                units--;
            args_cut(ar, a, "data", units);
        }
        return;
    }
    if (type == 7 && len % 2 == 0) {
        uint16_t arr = args_arr(ar, a, "data");
        size_t units = len / 2, start = 0, listed = 0;
        for (size_t i = 0; i <= units && listed < REG_MULTI_MAX; i++) {
            bool end = i == units || (rd_peek(&d, 2 * i) == 0 && rd_peek(&d, 2 * i + 1) == 0);
            if (!end)
                continue;
            if (i == start)
                break; /* the empty string that ends the list */
            struct rd s = d;
            rd_skip(&s, 2 * start);
            char one[ARG_STR_MAX];
            ndr_text(&s, i - start, true, true, one, sizeof one, NULL);
            args_str(ar, arr, NULL, one);
            listed++;
            start = i + 1;
        }
        return;
    }
    struct rd v = d;
    if ((type == 4 || type == 5) && len == 4) {
        args_num(ar, a, "data", rd_u32(&v, type == 4));
        return;
    }
    if (type == 11 && len == 8) {
        args_num(ar, a, "data", rd_u64(&v, true));
        return;
    }
    char hex[2 * REG_HEX_MAX + 1];
    size_t show = len < REG_HEX_MAX ? len : REG_HEX_MAX;
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < show; i++) {
        uint8_t b = rd_peek(&d, i);
        hex[2 * i] = digits[b >> 4];
        hex[2 * i + 1] = digits[b & 15];
    }
    hex[2 * show] = '\0';
    args_str(ar, a, "data", hex);
    if (show < len)
        args_cut(ar, a, "data", len);
}

/* A DWORD value's number, when it is one. */
static bool dword_of(uint32_t type, struct rd d, size_t len, uint32_t *v)
{
    if (type != 4 || len != 4)
        return false;
    *v = rd_u32(&d, true);
    return true;
}

/* ---- requests ---- */

static void req_open_root(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    if (ndr_ptr(n))
        ndr_u16(n); /* ServerName: one character, unused */
    uint32_t access = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    const char *root = root_name(call->opnum);
    if (root)
        args_str(call->args, a, "key", root);
    args_num(call->args, a, "access_mask", access);
}

/* Any call whose first argument is a key handle: name the key. */
static void req_key(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    uint8_t h[20];
    char path[REG_PATH_MAX];
    struct iface_handle *e = read_key(call, n, h);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    arg_key(call->args, a, e, NULL, path, sizeof path);
}

static void req_close(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    char path[REG_PATH_MAX];
    struct iface_handle *e = read_key(call, n, call->req_handle);
    call->req_handle_valid = ndr_ok(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    arg_key(call->args, a, e, NULL, path, sizeof path);
}

/* A handle and a subkey (BaseRegDeleteKey, BaseRegUnLoadKey, and the start of others). */
static bool key_and_subkey(struct rpc_call *call, struct ndr *n, uint16_t a, char *path,
                           size_t pathsz, struct rstr *sub)
{
    uint8_t h[20];
    struct iface_handle *e = read_key(call, n, h);
    read_rrp(n, sub);
    if (!ndr_ok(n))
        return false;
    arg_key(call->args, a, e, sub->s, path, pathsz);
    put_rrp(call->args, a, "subkey", sub);
    return true;
}

static void req_subkey(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    char path[REG_PATH_MAX];
    struct rstr sub;
    if (!key_and_subkey(call, n, a, path, sizeof path, &sub))
        return iface_decode_failed(w, call, a);
    if (call->opnum == 35) { /* BaseRegDeleteKeyEx: the view (wow64) and a reserved DWORD */
        uint32_t access = ndr_u32(n);
        ndr_u32(n);
        if (!ndr_ok(n))
            return iface_decode_failed(w, call, a);
        args_num(call->args, a, "access_mask", access);
    }
}

/* BaseRegOpenKey (15) and BaseRegCreateKey (6): the key's path, for the answer's handle. */
static void req_open_key(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    char path[REG_PATH_MAX], cls[256];
    struct rstr sub;
    if (!key_and_subkey(call, n, a, path, sizeof path, &sub))
        return iface_decode_failed(w, call, a);
    bool cut;
    uint64_t chars;
    if (call->opnum == 6 && rrp_string(n, cls, sizeof cls, &cut, &chars) && cls[0])
        args_str(ar, a, "key_class", cls);
    uint32_t options = ndr_u32(n), access = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    if (options)
        args_flags(ar, a, "options", options, key_options);
    args_num(ar, a, "access_mask", access);
    args_flags(ar, a, "access", access, key_access);
    char name[256];
    const char *rest;
    if (call->opnum == 6 && path[0] && service_key(path, name, sizeof name, &rest) && !rest[0])
        args_str(ar, a, ARG_SERVICE_NAME, name); /* routed once the answer says it is new */
}

static void req_delete_value(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    char path[REG_PATH_MAX], task[REG_PATH_MAX];
    struct rstr value;
    struct iface_handle *e = read_key(call, n, h);
    read_rrp(n, &value);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    arg_key(ar, a, e, NULL, path, sizeof path);
    put_rrp(ar, a, "value_name", &value);
    if (value.has && path[0] && strcasecmp(value.s, "SD") == 0 &&
        task_tree_key(path, task, sizeof task))
        route_hidden_task(call, task, "SD deleted");
}

static void req_query_value(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    uint8_t h[20];
    char path[REG_PATH_MAX];
    struct rstr value;
    struct iface_handle *e = read_key(call, n, h);
    read_rrp(n, &value);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    arg_key(call->args, a, e, NULL, path, sizeof path);
    put_rrp(call->args, a, "value_name", &value);
}

/* BaseRegLoadKey (13): a hive file loaded under a subkey. */
static void req_load_key(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    char path[REG_PATH_MAX];
    struct rstr sub, file;
    if (!key_and_subkey(call, n, a, path, sizeof path, &sub))
        return iface_decode_failed(w, call, a);
    arg_rrp(call->args, a, "file", n, &file);
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}

/* BaseRegReplaceKey (18): a new hive file, the old one kept as a backup. */
static void req_replace_key(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint16_t a = args_section(call->args, "args");
    char path[REG_PATH_MAX];
    struct rstr sub, file;
    if (!key_and_subkey(call, n, a, path, sizeof path, &sub))
        return iface_decode_failed(w, call, a);
    arg_rrp(call->args, a, "file", n, &file);
    arg_rrp(call->args, a, "old_file", n, &file);
    if (!ndr_ok(n))
        iface_decode_failed(w, call, a);
}

/* BaseRegRestoreKey (19), BaseRegSaveKey (20), BaseRegSaveKeyEx (31): a key and a file. */
static void req_file(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    char path[REG_PATH_MAX];
    struct rstr file;
    struct iface_handle *e = read_key(call, n, h);
    read_rrp(n, &file);
    uint32_t flags = 0;
    if (call->opnum == 19) {
        flags = ndr_u32(n);
    } else {
        security_attributes(n);
        if (call->opnum == 31)
            flags = ndr_u32(n);
    }
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    arg_key(ar, a, e, NULL, path, sizeof path);
    put_rrp(ar, a, "file", &file);
    if (call->opnum == 19)
        args_flags(ar, a, "flags", flags, restore_flags);
    else if (call->opnum == 31)
        args_flags(ar, a, "flags", flags, save_flags);
    if (call->opnum != 19)
        args_bool(ar, a, ARG_HIVE_SAVED, true);
}

/*
 * BaseRegSetKeySecurity (21): which parts of the descriptor, its size and the
 * descriptor as SDDL; read rights of a key: KEY_QUERY_VALUE, KEY_ENUMERATE_SUB_KEYS,
 * KEY_NOTIFY, GENERIC_READ, GENERIC_ALL (SD_KEY_READ_RIGHTS; not READ_CONTROL, which
 * KW carries too). Denied on a service's or a task's key: hidden_service, hidden_task.
 */
static void req_set_security(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    char path[REG_PATH_MAX];
    struct iface_handle *e = read_key(call, n, h);
    uint32_t info = ndr_u32(n);
    const uint8_t *sd = NULL;
    uint64_t size = security_descriptor(n, &sd);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    arg_key(ar, a, e, NULL, path, sizeof path);
    args_flags(ar, a, "security_information", info, security_information);
    args_num(ar, a, "security_descriptor_size", size);
    if (sd && size)
        iface_sd_arg(w, call, a, sd, (size_t)size, SD_KEY_READ_RIGHTS);
}

/*
 * BaseRegSetValue (22): the value, its type and data; on a service's key the
 * values that make or change what it runs are routed.
 */
static void req_set_value(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    struct rpc_args *ar = call->args;
    uint16_t a = args_section(ar, "args");
    uint8_t h[20];
    char path[REG_PATH_MAX];
    struct rstr vn;
    struct rstr *v = &vn;
    struct iface_handle *e = read_key(call, n, h);
    read_rrp(n, v);
    const char *value = v->s;
    uint32_t type = ndr_u32(n);
    uint64_t max = ndr_size(n);
    if (!ndr_ok(n) || max > rd_left(&n->c))
        return iface_decode_failed(w, call, a);
    struct rd d = rd_sub(&n->c, (size_t)max);
    uint32_t cb = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, a);
    arg_key(ar, a, e, NULL, path, sizeof path);
    put_rrp(ar, a, "value_name", v);
    args_enum(ar, a, "value_type", type, value_types);
    char text[ARG_STR_MAX];
    arg_data(ar, a, type, d, (size_t)max, text, sizeof text);
    args_num(ar, a, "data_size", cb);
    if (!path[0])
        return;

    char name[256], task[REG_PATH_MAX];
    const char *rest;
    bool is_text = type == 1 || type == 2;
    uint32_t dw;
    if (service_key(path, name, sizeof name, &rest)) {
        bool top = !rest[0];
        if (top && is_text && strcasecmp(value, "ImagePath") == 0) {
            /* a key made here (or whose making was not answered), or made lately over
               another connection, is a new service */
            if (!(e->reg & HK_EXISTED) || recent_taken(w, call, name))
                call->cls = RPC_CLASS_CREATE;
            route_service(call, name);
            args_str(ar, a, ARG_BINARY_PATH, text);
        } else if (is_text && strcasecmp(value, "ServiceDll") == 0 &&
                   (top || strcasecmp(rest, "\\Parameters") == 0)) {
            route_service(call, name);
            args_str(ar, a, ARG_SERVICE_DLL, text);
        } else if (top && is_text && strcasecmp(value, "FailureCommand") == 0) {
            route_service(call, name);
            args_str(ar, args_obj(ar, a, "failure_actions"), ARG_COMMAND, text);
        } else if (top && dword_of(type, d, (size_t)max, &dw) && strcasecmp(value, "Start") == 0) {
            args_str(ar, a, ARG_SERVICE_NAME, name);
            args_enum(ar, a, "start_type", dw, start_types);
        } else if (top && dword_of(type, d, (size_t)max, &dw) && strcasecmp(value, "Type") == 0) {
            args_str(ar, a, ARG_SERVICE_NAME, name);
            args_flags(ar, a, "service_type", dw, service_types);
        } else if (top && is_text && strcasecmp(value, "ObjectName") == 0) {
            args_str(ar, a, ARG_SERVICE_NAME, name);
            args_str(ar, a, ARG_START_NAME, text);
        } else if (type == 3 && strcasecmp(rest, "\\Security") == 0 &&
                   strcasecmp(value, "Security") == 0) {
            /* the SCM keeps a service's descriptor here: the SD sc sdset would set */
            args_str(ar, a, ARG_SERVICE_NAME, name);
            struct rd sd = d;
            iface_sd_arg(w, call, a, rd_take(&sd, (size_t)max), (size_t)max,
                         SD_SERVICE_READ_RIGHTS);
        }
    } else if (type == 3 && strcasecmp(value, "Actions") == 0 &&
               task_record_key(path, task, sizeof task)) {
        /* a task's actions written where the scheduler keeps them: a task made or
           changed without the scheduler's API */
        args_str(ar, a, "task_id", task);
        struct rd blob = d;
        if (!task_actions_blob(ar, args_obj(ar, a, ARG_TASK), blob))
            return iface_decode_failed(w, call, a);
        call->cls = e->reg & HK_EXISTED ? RPC_CLASS_MODIFY : RPC_CLASS_CREATE;
        call->route = RPC_ROUTE_REGISTRY;
        call->route_attack[0] = "T1053.005";
        call->route_attack[1] = NULL;
    } else if (task_tree_key(path, task, sizeof task) && strcasecmp(value, "Index") == 0 &&
               dword_of(type, d, (size_t)max, &dw) && dw == 0) {
        route_hidden_task(call, task, "Index set to 0");
    } else if (task_tree_key(path, task, sizeof task) && type == 3 &&
               strcasecmp(value, "SD") == 0) {
        /* the task's descriptor, as the scheduler keeps it (REG_BINARY) */
        args_str(ar, a, ARG_PATH, task);
        struct rd sd = d;
        iface_sd_arg(w, call, a, rd_take(&sd, (size_t)max), (size_t)max, SD_TASK_READ_RIGHTS);
    }
}

/* ---- responses ---- */

/* The answer's key handle, mapped to the path the request named (or unknown). */
static void put_key(struct worker *w, struct rpc_call *call, const uint8_t h[20], uint8_t flags)
{
    static const uint8_t nil[20];
    if (memcmp(h, nil, 20) == 0)
        return;
    struct iface_state *st = iface_state_get(w, call);
    struct iface_handle *e = st ? iface_handle_slot(w, st, h) : NULL;
    if (!e)
        return;
    const char *path = call->opnum == 6 || call->opnum == 15 ? args_get(call->args, "args.key")
                                                             : root_name(call->opnum);
    e->reg = HK_KEY | flags;
    e->scm = false;
    snprintf(e->name, sizeof e->name, "%s", path ? path : "");
}

static void res_open(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint8_t h[20];
    ndr_handle(n, h);
    if (ndr_ok(n))
        put_key(w, call, h, HK_EXISTED);
}

static void res_create_key(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    uint8_t h[20];
    ndr_handle(n, h);
    uint32_t disp = 0;
    if (ndr_ptr(n))
        disp = ndr_u32(n);
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, args_section(call->args, "result"));
    if (!call->has_status || call->status != 0)
        return; /* no key, whatever the disposition says (Samba sets it on a refusal) */
    uint8_t flags = disp == 1 ? HK_CREATED : disp == 2 ? HK_EXISTED : 0;
    put_key(w, call, h, flags);
    if (disp == 1 || disp == 2)
        args_str(call->args, args_section(call->args, "result"), "disposition",
                 disp == 1 ? "created" : "opened");
    const char *svc = args_get(call->args, ARGS(ARG_SERVICE_NAME));
    if (disp == 1 && svc) {
        call->route = RPC_ROUTE_REGISTRY; /* a service's key made: T1543.003 */
        call->route_attack[0] = "T1543.003";
        recent_made(w, call, svc);
    }
}

static void res_close(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    (void)w;
    (void)n;
    if (call->req_handle_valid)
        iface_handle_drop(call, call->req_handle);
}

/* BaseRegQueryValue (17): the value's type and data, when it was given. */
static void res_query_value(struct worker *w, struct rpc_call *call, struct ndr *n)
{
    if (!call->has_status || call->status != 0)
        return;
    uint16_t r = args_section(call->args, "result");
    uint32_t type = 0;
    bool has_type = false;
    if (ndr_ptr(n))
        type = ndr_u32(n), has_type = true;
    uint64_t data = ndr_ptr(n);
    struct rd d = rd_init(NULL, 0);
    uint64_t actual = 0;
    if (data) {
        uint64_t max = ndr_size(n), off = ndr_size(n);
        actual = ndr_size(n);
        if (!ndr_ok(n) || off > max || actual > max - off || actual > rd_left(&n->c))
            return iface_decode_failed(w, call, r);
        d = rd_sub(&n->c, (size_t)actual);
    }
    if (!ndr_ok(n))
        return iface_decode_failed(w, call, r);
    if (has_type)
        args_enum(call->args, r, "value_type", type, value_types);
    if (data && has_type) {
        char text[ARG_STR_MAX];
        arg_data(call->args, r, type, d, (size_t)actual, text, sizeof text);
        args_num(call->args, r, "data_size", actual);
    }
}

#define OP(n, s) [n] = {s, RPC_CLASS_OTHER, NULL, NULL}
#define ROOT(n, s) [n] = {s, RPC_CLASS_OTHER, req_open_root, res_open}
#define RD(n, s) [n] = {s, RPC_CLASS_READ, req_key, NULL}
static const struct iface_op ops[] = {
    ROOT(0, "OpenClassesRoot"),
    ROOT(1, "OpenCurrentUser"),
    ROOT(2, "OpenLocalMachine"),
    ROOT(3, "OpenPerformanceData"),
    ROOT(4, "OpenUsers"),
    [5] = {"BaseRegCloseKey", RPC_CLASS_OTHER, req_close, res_close},
    [6] = {"BaseRegCreateKey", RPC_CLASS_CREATE, req_open_key, res_create_key},
    [7] = {"BaseRegDeleteKey", RPC_CLASS_DELETE, req_subkey, NULL},
    [8] = {"BaseRegDeleteValue", RPC_CLASS_DELETE, req_delete_value, NULL},
    RD(9, "BaseRegEnumKey"),
    RD(10, "BaseRegEnumValue"),
    [11] = {"BaseRegFlushKey", RPC_CLASS_OTHER, req_key, NULL},
    RD(12, "BaseRegGetKeySecurity"),
    [13] = {"BaseRegLoadKey", RPC_CLASS_MODIFY, req_load_key, NULL},
    OP(14, "Opnum14NotUsedOnWire"),
    [15] = {"BaseRegOpenKey", RPC_CLASS_OTHER, req_open_key, res_open},
    RD(16, "BaseRegQueryInfoKey"),
    [17] = {"BaseRegQueryValue", RPC_CLASS_READ, req_query_value, res_query_value},
    [18] = {"BaseRegReplaceKey", RPC_CLASS_MODIFY, req_replace_key, NULL},
    [19] = {"BaseRegRestoreKey", RPC_CLASS_MODIFY, req_file, NULL},
    [20] = {"BaseRegSaveKey", RPC_CLASS_READ, req_file, NULL},
    [21] = {"BaseRegSetKeySecurity", RPC_CLASS_MODIFY, req_set_security, NULL},
    [22] = {"BaseRegSetValue", RPC_CLASS_MODIFY, req_set_value, NULL},
    [23] = {"BaseRegUnLoadKey", RPC_CLASS_MODIFY, req_subkey, NULL},
    [24] = {"BaseInitiateSystemShutdown", RPC_CLASS_EXECUTE, NULL, NULL},
    [25] = {"BaseAbortSystemShutdown", RPC_CLASS_EXECUTE, NULL, NULL},
    RD(26, "BaseRegGetVersion"),
    ROOT(27, "OpenCurrentConfig"),
    ROOT(28, "OpenDynData"),
    RD(29, "BaseRegQueryMultipleValues"),
    [30] = {"BaseInitiateSystemShutdownEx", RPC_CLASS_EXECUTE, NULL, NULL},
    [31] = {"BaseRegSaveKeyEx", RPC_CLASS_READ, req_file, NULL},
    ROOT(32, "OpenPerformanceText"),
    ROOT(33, "OpenPerformanceNlsText"),
    RD(34, "BaseRegQueryMultipleValues2"),
    [35] = {"BaseRegDeleteKeyEx", RPC_CLASS_DELETE, req_subkey, NULL},
};

const struct iface_def iface_winreg = {
    .uuid = UUID_LIT(0x338cd001, 0x2244, 0x31f1, 0xaa, 0xaa, 0x90, 0x00, 0x38, 0x00, 0x10, 0x03),
    .ver_major = 1,
    .name = "winreg",
    .service = "winreg",
    .spec = "MS-RRP",
    .pipes = "winreg",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
    .returns_status = true,
};
