/*
 * winreg (MS-RRP) decoders on hand-made stubs: NDR and NDR64, both byte
 * orders; key handles followed from the root opens and BaseRegOpenKey /
 * BaseRegCreateKey answers; values by type; the registry roads (a service
 * made or repointed, a task hidden); stubs cut at every byte (a
 * dcerpc.stub_malformed anomaly, never a crash or a wrong value).
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "ndr_writer.h"
#include "rpcsentry/args.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/iface.h"
#include "rpcsentry/ndr.h"
#include "rpcsentry/worker.h"

/* ---- an NDR writer (NDR64: 8-byte pointers and counts) ---- */

static void w_bytes(struct w *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* An RRP_UNICODE_STRING standing alone: Length, MaximumLength, pointer, then the
 * conformant varying characters with their NUL. */
static void w_rrp(struct w *w, const char *s)
{
    size_t n = strlen(s) + 1;
    w_align(w, w->ndr64 ? 8 : 4);
    w_u16(w, (uint16_t)(2 * n));
    w_u16(w, (uint16_t)(2 * n));
    w_size(w, 0x20000);
    w_size(w, n);
    w_size(w, 0);
    w_size(w, n);
    for (size_t i = 0; i < n; i++)
        w_uint(w, (unsigned char)s[i], 2);
}

/* Registry data is little-endian UTF-16 whatever the stub's order. */
static size_t utf16le(uint8_t *out, const char *s, bool nul)
{
    size_t k = 0, n = strlen(s) + (nul ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        out[k++] = (uint8_t)s[i];
        out[k++] = 0;
    }
    return k;
}

/* ---- running decoders as the pipeline does ---- */

static struct worker worker;
static struct config cfg;

static struct worker *fresh_worker(void)
{
    config_defaults(&cfg);
    free(worker.scratch);
    memset(&worker, 0, sizeof worker);
    worker.cfg = &cfg;
    return &worker;
}

static const struct iface_def *winreg(void)
{
    const struct iface_def *const *all;
    size_t n = iface_all(&all);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->name, "winreg") == 0)
            return all[i];
    return NULL;
}

static struct flow_ref ref_flow;
static uint64_t tx;
static struct rpc_transport tcp = {.kind = RPC_TRANSPORT_TCP, .flow = &ref_flow, .tx_counter = &tx};

static void request(struct rpc_call *c, uint16_t opnum, const struct w *st, size_t len,
                    void **state)
{
    memset(c, 0, sizeof *c);
    c->kind = RPC_KIND_REQUEST;
    c->transport = &tcp;
    c->opnum = opnum;
    c->le = st->le;
    c->ctx.iface = winreg();
    c->ctx.syntax = st->ndr64 ? RPC_SYNTAX_NDR64 : RPC_SYNTAX_NDR;
    c->res_ptype = RPC_PTYPE_NONE;
    c->iface_state = state;
    c->req_stub = st->b;
    c->req_stub_avail = len;
    c->req_stub_len = len;
    iface_request(&worker, c);
}

static void response(struct rpc_call *c, const struct w *st)
{
    c->res_ptype = 2;
    c->res_stub = st->b;
    c->res_stub_avail = st->n;
    c->res_stub_len = st->n;
    iface_complete(&worker, c);
    story_table_free(&worker);
}

/* A call answered with a handle (and, for BaseRegCreateKey, a disposition). */
static void answered(uint16_t opnum, const struct w *req, uint8_t tag, uint32_t disposition,
                     void **state)
{
    struct rpc_call c;
    request(&c, opnum, req, req->n, state);
    struct w res = {.le = req->le, .ndr64 = req->ndr64};
    w_handle(&res, tag);
    if (opnum == 6) {
        w_size(&res, disposition ? 0x20000 : 0);
        if (disposition)
            w_u32(&res, disposition);
    }
    w_u32(&res, 0);
    response(&c, &res);
    args_free(NULL, c.args);
}

static void open_hklm(bool le, bool ndr64, uint8_t tag, void **state)
{
    struct w st = {.le = le, .ndr64 = ndr64};
    w_size(&st, 0x20000);
    w_u16(&st, 0);
    w_u32(&st, 0x02000000);
    answered(2, &st, tag, 0, state);
}

static void open_key(bool le, bool ndr64, uint8_t parent, const char *sub, uint8_t tag,
                     void **state)
{
    struct w st = {.le = le, .ndr64 = ndr64};
    w_handle(&st, parent);
    w_rrp(&st, sub);
    w_u32(&st, 0);
    w_u32(&st, 0x20006);
    answered(15, &st, tag, 0, state);
}

static void w_create_key(struct w *st, uint8_t parent, const char *sub)
{
    w_handle(st, parent);
    w_rrp(st, sub);
    w_align(st, st->ndr64 ? 8 : 4); /* lpClass: a NULL buffer */
    w_u16(st, 0);
    w_u16(st, 0);
    w_size(st, 0);
    w_u32(st, 0);
    w_u32(st, 0x20006);
    w_size(st, 0); /* lpSecurityAttributes */
    w_size(st, 0); /* lpdwDisposition */
}

static void w_set_value(struct w *st, uint8_t key, const char *name, uint32_t type,
                        const uint8_t *data, size_t len)
{
    w_handle(st, key);
    w_rrp(st, name);
    w_u32(st, type);
    w_size(st, len);
    w_bytes(st, data, len);
    w_u32(st, (uint32_t)len);
}

#define SERVICES "SYSTEM\\CurrentControlSet\\Services"

TEST(winreg_service_created_through_the_registry_in_all_encodings)
{
    for (int enc = 0; enc < 4; enc++) {
        bool le = !(enc & 1), ndr64 = (enc & 2) != 0;
        fresh_worker();
        void *state = NULL;
        open_hklm(le, ndr64, 0x10, &state);
        struct w ck = {.le = le, .ndr64 = ndr64};
        w_create_key(&ck, 0x10, SERVICES "\\LabSvc");
        struct rpc_call c;
        request(&c, 6, &ck, ck.n, &state);
        CHECK_STR(args_get(c.args, "args.key"), "HKLM\\" SERVICES "\\LabSvc");
        CHECK_STR(args_get(c.args, "args.service_name"), "LabSvc");
        CHECK_EQ(c.route, RPC_ROUTE_NONE); /* not until the answer says it is new */
        struct w res = {.le = le, .ndr64 = ndr64};
        w_handle(&res, 0x11);
        w_size(&res, 0x20000);
        w_u32(&res, 1); /* REG_CREATED_NEW_KEY */
        w_u32(&res, 0);
        response(&c, &res);
        CHECK_STR(args_get(c.args, "result.disposition"), "created");
        CHECK_EQ(c.route, RPC_ROUTE_REGISTRY);
        CHECK_EQ(c.cls, RPC_CLASS_CREATE);
        args_free(NULL, c.args);

        uint8_t data[256];
        size_t n = utf16le(data, "%SystemRoot%\\Temp\\x.exe", true);
        struct w sv = {.le = le, .ndr64 = ndr64};
        w_set_value(&sv, 0x11, "ImagePath", 2, data, n);
        request(&c, 22, &sv, sv.n, &state);
        CHECK_STR(args_get(c.args, "args.key"), "HKLM\\" SERVICES "\\LabSvc");
        CHECK_STR(args_get(c.args, "args.value_name"), "ImagePath");
        CHECK_STR(args_get(c.args, "args.value_type"), "REG_EXPAND_SZ");
        CHECK_STR(args_get(c.args, "args.data"), "%SystemRoot%\\Temp\\x.exe");
        CHECK_STR(args_get(c.args, "args.binary_path"), "%SystemRoot%\\Temp\\x.exe");
        CHECK_STR(args_get(c.args, "args.service_name"), "LabSvc");
        CHECK(args_find(c.args, "args.decode_incomplete") == NULL);
        CHECK_EQ(c.cls, RPC_CLASS_CREATE);
        CHECK_EQ(c.route, RPC_ROUTE_REGISTRY);
        CHECK_STR(c.route_attack[0], "T1543.003");
        CHECK(c.indicators & (1u << IND_USER_WRITABLE));
        args_free(NULL, c.args);
        iface_assoc_state_free(&worker, state);
    }
}

TEST(winreg_existing_service_repointed_and_other_values)
{
    fresh_worker();
    void *state = NULL;
    open_hklm(true, false, 0x10, &state);
    open_key(true, false, 0x10, "\\" SERVICES "\\Spooler\\", 0x12, &state);
    uint8_t data[256];
    size_t n = utf16le(data, "C:\\evil.dll", true);
    struct w sv = {.le = true};
    w_set_value(&sv, 0x12, "ImagePath", 1, data, n);
    struct rpc_call c;
    request(&c, 22, &sv, sv.n, &state);
    CHECK_STR(args_get(c.args, "args.key"), "HKLM\\" SERVICES "\\Spooler");
    CHECK_EQ(c.cls, RPC_CLASS_MODIFY); /* opened: the service existed */
    CHECK_EQ(c.route, RPC_ROUTE_REGISTRY);
    args_free(NULL, c.args);

    uint8_t dw[4] = {2, 0, 0, 0};
    struct w st = {.le = true};
    w_set_value(&st, 0x12, "Start", 4, dw, 4);
    request(&c, 22, &st, st.n, &state);
    const struct rpc_arg *d = args_find(c.args, "args.data");
    CHECK(d && d->type == ARG_NUM && d->num == 2);
    CHECK_STR(args_get(c.args, "args.start_type"), "auto_start");
    CHECK_EQ(c.route, RPC_ROUTE_NONE);
    args_free(NULL, c.args);

    /* a ServiceDll under Parameters, and FailureCommand, are routed changes */
    open_key(true, false, 0x12, "Parameters", 0x13, &state);
    n = utf16le(data, "C:\\Users\\Public\\s.dll", true);
    struct w sd = {.le = true};
    w_set_value(&sd, 0x13, "ServiceDll", 2, data, n);
    request(&c, 22, &sd, sd.n, &state);
    CHECK_STR(args_get(c.args, "args.key"), "HKLM\\" SERVICES "\\Spooler\\Parameters");
    CHECK_STR(args_get(c.args, "args.service_dll"), "C:\\Users\\Public\\s.dll");
    CHECK_EQ(c.route, RPC_ROUTE_REGISTRY);
    CHECK(c.indicators & (1u << IND_USER_WRITABLE));
    args_free(NULL, c.args);
    n = utf16le(data, "cmd /c whoami", true);
    struct w fc = {.le = true};
    w_set_value(&fc, 0x12, "FailureCommand", 1, data, n);
    request(&c, 22, &fc, fc.n, &state);
    CHECK_STR(args_get(c.args, "args.failure_actions.command"), "cmd /c whoami");
    CHECK(c.indicators & (1u << IND_LOLBIN));
    args_free(NULL, c.args);

    /* a Run key value is not a service */
    open_key(true, false, 0x10, "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", 0x14, &state);
    struct w rk = {.le = true};
    w_set_value(&rk, 0x14, "ImagePath", 1, data, n);
    request(&c, 22, &rk, rk.n, &state);
    CHECK_EQ(c.route, RPC_ROUTE_NONE);
    CHECK(args_get(c.args, "args.service_name") == NULL);
    args_free(NULL, c.args);
    iface_assoc_state_free(&worker, state);
}

TEST(winreg_key_made_on_one_connection_imagepath_on_the_next)
{
    fresh_worker();
    void *a = NULL, *b = NULL;
    open_hklm(true, false, 0x10, &a);
    struct w ck = {.le = true};
    w_create_key(&ck, 0x10, SERVICES "\\Later");
    answered(6, &ck, 0x11, 1, &a);
    iface_assoc_state_free(&worker, a);
    /* reg.py's next command: a new association, the key opened */
    open_hklm(true, false, 0x20, &b);
    open_key(true, false, 0x20, SERVICES "\\Later", 0x21, &b);
    uint8_t data[64];
    size_t n = utf16le(data, "C:\\l.exe", true);
    for (int i = 0; i < 2; i++) {
        struct w sv = {.le = true};
        w_set_value(&sv, 0x21, "ImagePath", 2, data, n);
        struct rpc_call c;
        request(&c, 22, &sv, sv.n, &b);
        /* the first is the creation; once taken, a second ImagePath is a change */
        CHECK_EQ(c.cls, i == 0 ? RPC_CLASS_CREATE : RPC_CLASS_MODIFY);
        args_free(NULL, c.args);
    }
    iface_assoc_state_free(&worker, b);
}

TEST(winreg_hidden_task_and_hive_save)
{
    fresh_worker();
    void *state = NULL;
    open_hklm(true, true, 0x10, &state);
    open_key(true, true, 0x10,
             "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree\\Hid",
             0x15, &state);
    struct w dv = {.le = true, .ndr64 = true};
    w_handle(&dv, 0x15);
    w_rrp(&dv, "SD");
    struct rpc_call c;
    request(&c, 8, &dv, dv.n, &state);
    CHECK_EQ(c.cls, RPC_CLASS_DELETE);
    CHECK_EQ(c.route, RPC_ROUTE_REGISTRY);
    CHECK_STR(args_get(c.args, "args.path"), "\\Hid");
    CHECK_STR(args_get(c.args, "args.hidden_by"), "SD deleted");
    CHECK(c.indicators & (1u << IND_HIDDEN_TASK));
    CHECK_STR(c.route_attack[1], "T1053.005");
    args_free(NULL, c.args);
    uint8_t zero[4] = {0}, one[4] = {1};
    for (int i = 0; i < 2; i++) {
        struct w sv = {.le = true, .ndr64 = true};
        w_set_value(&sv, 0x15, "Index", 4, i ? zero : one, 4);
        request(&c, 22, &sv, sv.n, &state);
        CHECK_EQ(c.route, i ? RPC_ROUTE_REGISTRY : RPC_ROUTE_NONE);
        CHECK_EQ(!!(c.indicators & (1u << IND_HIDDEN_TASK)), i);
        args_free(NULL, c.args);
    }
    struct w sk = {.le = true, .ndr64 = true};
    w_handle(&sk, 0x10);
    w_rrp(&sk, "C:\\sam.save");
    w_size(&sk, 0); /* pSecurityAttributes */
    request(&c, 20, &sk, sk.n, &state);
    CHECK_STR(args_get(c.args, "args.file"), "C:\\sam.save");
    CHECK_STR(args_get(c.args, "args.key"), "HKLM");
    CHECK(c.indicators & (1u << IND_HIVE_SAVED));
    CHECK_EQ(c.cls, RPC_CLASS_READ);
    args_free(NULL, c.args);
    iface_assoc_state_free(&worker, state);
}

/* BaseRegSetKeySecurity: handle, SECURITY_INFORMATION, RPC_SECURITY_DESCRIPTOR. */
static void w_set_key_security(struct w *st, uint8_t key, const uint8_t *sd, size_t n)
{
    w_handle(st, key);
    w_u32(st, 4);
    w_align(st, st->ndr64 ? 8 : 4);
    w_size(st, 0x20000);
    w_u32(st, (uint32_t)n);
    w_u32(st, (uint32_t)n);
    w_size(st, n);
    w_size(st, 0);
    w_size(st, n);
    w_bytes(st, sd, n);
}

TEST(winreg_key_security_decoded_and_hiding_keys)
{
    /* D:(D;;KR;;;BA)(A;;KA;;;SY), built by impacket's ldaptypes (tests/lab/sd_build.py) */
    static const uint8_t deny_read[] = {
        0x01, 0x00, 0x04, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x14, 0x00, 0x00, 0x00, 0x02, 0x00, 0x34, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x18, 0x00, 0x19, 0x00, 0x02, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20,
        0x00, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x3f, 0x00, 0x0f, 0x00,
        0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x12, 0x00, 0x00, 0x00,
    };
    static const char *const keys[] = {
        "SYSTEM\\CurrentControlSet\\Services\\Hid",
        "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree\\Hid",
        "SOFTWARE\\Vendor\\App"};
    for (int k = 0; k < 3; k++)
        for (int ndr64 = 0; ndr64 < 2; ndr64++) {
            fresh_worker();
            void *state = NULL;
            open_hklm(true, ndr64, 0x10, &state);
            open_key(true, ndr64, 0x10, keys[k], 0x15, &state);
            struct w st = {.le = true, .ndr64 = ndr64};
            w_set_key_security(&st, 0x15, deny_read, sizeof deny_read);
            struct rpc_call c;
            request(&c, 21, &st, st.n, &state);
            CHECK_STR(args_get(c.args, "args.security_descriptor.sddl"),
                      "D:(D;;KR;;;BA)(A;;KA;;;SY)");
            CHECK_STR(args_get(c.args, "args.security_descriptor.read_denied_to"), "BA");
            CHECK_EQ(!!(c.indicators & (1u << IND_HIDDEN_SERVICE)), k == 0);
            CHECK_EQ(!!(c.indicators & (1u << IND_HIDDEN_TASK)), k == 1);
            args_free(NULL, c.args);
            /* every cut: refused, never a descriptor or an indicator */
            for (size_t len = 1; len < st.n; len++) {
                request(&c, 21, &st, len, &state);
                CHECK(args_get(c.args, "args.security_descriptor.sddl") == NULL);
                CHECK(!(c.indicators & ((1u << IND_HIDDEN_SERVICE) | (1u << IND_HIDDEN_TASK))));
                args_free(NULL, c.args);
            }
            iface_assoc_state_free(&worker, state);
        }
    /* the same descriptor written where the SCM and the scheduler keep them (REG_BINARY) */
    static const char *const where[][2] = {
        {"SYSTEM\\CurrentControlSet\\Services\\Hid\\Security", "Security"},
        {"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree\\Hid", "SD"},
        {"SYSTEM\\CurrentControlSet\\Services\\Hid", "Security"}};
    for (int k = 0; k < 3; k++) {
        fresh_worker();
        void *state = NULL;
        open_hklm(true, false, 0x10, &state);
        open_key(true, false, 0x10, where[k][0], 0x15, &state);
        struct w sv = {.le = true, .ndr64 = false};
        w_set_value(&sv, 0x15, where[k][1], 3, deny_read, sizeof deny_read);
        struct rpc_call c;
        request(&c, 22, &sv, sv.n, &state);
        /* a Security value on the service's own key is not where the SCM keeps it */
        CHECK_EQ(args_get(c.args, "args.security_descriptor.sddl") != NULL, k < 2);
        CHECK_EQ(!!(c.indicators & (1u << IND_HIDDEN_SERVICE)), k == 0);
        CHECK_EQ(!!(c.indicators & (1u << IND_HIDDEN_TASK)), k == 1);
        args_free(NULL, c.args);
        iface_assoc_state_free(&worker, state);
    }
}

TEST(winreg_value_types)
{
    fresh_worker();
    void *state = NULL;
    open_hklm(false, false, 0x10, &state);
    struct rpc_call c;
    /* REG_MULTI_SZ: a list, ending at the empty string */
    uint8_t data[1024];
    size_t n = utf16le(data, "one", true);
    n += utf16le(data + n, "two", true);
    n += utf16le(data + n, "", true);
    struct w ms = {.le = false};
    w_set_value(&ms, 0x10, "Deps", 7, data, n);
    request(&c, 22, &ms, ms.n, &state);
    uint16_t ai = args_child(c.args, args_child(c.args, 0, "args"), "data");
    const struct rpc_arg *arr = ai != ARGS_NONE ? &c.args->node[ai] : NULL;
    CHECK(arr && arr->type == ARG_ARR);
    CHECK_STR(args_get(c.args, "args.data"), "one");
    uint16_t second = arr ? c.args->node[arr->first].next : ARGS_NONE;
    CHECK_STR(args_value(c.args, second), "two");
    CHECK(second != ARGS_NONE && c.args->node[second].next == ARGS_NONE);
    args_free(NULL, c.args);
    /* REG_QWORD: a number */
    uint8_t q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct w qw = {.le = false};
    w_set_value(&qw, 0x10, "Q", 11, q, 8);
    request(&c, 22, &qw, qw.n, &state);
    const struct rpc_arg *num = args_find(c.args, "args.data");
    CHECK(num && num->type == ARG_NUM && num->num == 0x0807060504030201ULL);
    args_free(NULL, c.args);
    /* REG_BINARY: hex of the first 256 bytes, and the whole size */
    for (int i = 0; i < 600; i++)
        data[i] = (uint8_t)i;
    struct w bin = {.le = false};
    w_set_value(&bin, 0x10, "B", 3, data, 600);
    request(&c, 22, &bin, bin.n, &state);
    const char *hex = args_get(c.args, "args.data");
    CHECK(hex && strlen(hex) == 512 && strncmp(hex, "000102", 6) == 0);
    const struct rpc_arg *cut = args_find(c.args, "args.truncated.data");
    CHECK(cut && cut->num == 600);
    const struct rpc_arg *size = args_find(c.args, "args.data_size");
    CHECK(size && size->num == 600);
    args_free(NULL, c.args);
    /* a value type we do not know is named by its number, its data in hex */
    struct w odd = {.le = false};
    w_set_value(&odd, 0x10, "O", 77, q, 3);
    request(&c, 22, &odd, odd.n, &state);
    CHECK_STR(args_get(c.args, "args.value_type"), "77");
    CHECK_STR(args_get(c.args, "args.data"), "010203");
    args_free(NULL, c.args);
    iface_assoc_state_free(&worker, state);
}

TEST(winreg_unknown_handle_names_no_key)
{
    fresh_worker();
    void *state = NULL;
    struct w st = {.le = true};
    w_handle(&st, 0x77);
    w_rrp(&st, SERVICES "\\X");
    w_u32(&st, 0);
    w_u32(&st, 1);
    struct rpc_call c;
    request(&c, 15, &st, st.n, &state);
    CHECK(args_get(c.args, "args.key") == NULL); /* the open of its parent was not seen */
    CHECK_STR(args_get(c.args, "args.subkey"), SERVICES "\\X");
    args_free(NULL, c.args);
    iface_assoc_state_free(&worker, state);
}

TEST(winreg_stubs_cut_at_every_byte)
{
    uint8_t data[64];
    size_t dn = utf16le(data, "C:\\x.exe", true);
    for (int enc = 0; enc < 4; enc++) {
        bool le = !(enc & 1), ndr64 = (enc & 2) != 0;
        struct w stubs[5];
        uint16_t ops[5] = {22, 6, 15, 8, 21};
        for (int k = 0; k < 5; k++)
            stubs[k] = (struct w){.le = le, .ndr64 = ndr64};
        w_set_value(&stubs[0], 0x10, "ImagePath", 2, data, dn);
        w_create_key(&stubs[1], 0x10, SERVICES "\\Cut");
        w_handle(&stubs[2], 0x10);
        w_rrp(&stubs[2], SERVICES);
        w_u32(&stubs[2], 0);
        w_u32(&stubs[2], 1);
        w_handle(&stubs[3], 0x10);
        w_rrp(&stubs[3], "SD");
        w_handle(&stubs[4], 0x10); /* BaseRegSetKeySecurity */
        w_u32(&stubs[4], 4);
        w_align(&stubs[4], ndr64 ? 8 : 4);
        w_size(&stubs[4], 0x20000);
        w_u32(&stubs[4], 20);
        w_u32(&stubs[4], 20);
        w_size(&stubs[4], 20);
        w_size(&stubs[4], 0);
        w_size(&stubs[4], 20);
        w_bytes(&stubs[4], data, 20);
        /* BaseRegCreateKey is read up to samDesired: its last two pointers are not needed */
        struct w head = {.le = le, .ndr64 = ndr64};
        w_create_key(&head, 0x10, SERVICES "\\Cut");
        size_t create_needs = head.n - (ndr64 ? 16 : 8);
        while (create_needs % 4)
            create_needs--;
        for (int k = 0; k < 5; k++) {
            struct w *st = &stubs[k];
            size_t needs = k == 1 ? create_needs : st->n;
            for (size_t len = 1; len <= st->n; len++) {
                struct worker *w = fresh_worker();
                void *state = NULL;
                open_hklm(le, ndr64, 0x10, &state);
                uint64_t before = w->anomalies[ANOM_STUB_MALFORMED];
                struct rpc_call c;
                request(&c, ops[k], st, len, &state);
                const struct rpc_arg *inc = args_find(c.args, "args.decode_incomplete");
                bool incomplete = inc && inc->num;
                if (len < needs && !incomplete)
                    test_fail(__FILE__, __LINE__, "op %u enc %d cut at %zu of %zu: complete",
                              ops[k], enc, len, st->n);
                if (incomplete && w->anomalies[ANOM_STUB_MALFORMED] != before + 1)
                    test_fail(__FILE__, __LINE__, "op %u cut at %zu: no anomaly", ops[k], len);
                if (len == st->n && incomplete)
                    test_fail(__FILE__, __LINE__, "op %u enc %d whole stub incomplete", ops[k],
                              enc);
                const char *bin = args_get(c.args, "args.binary_path");
                if (bin && strcmp(bin, "C:\\x.exe") != 0)
                    test_fail(__FILE__, __LINE__, "cut at %zu: binary path %s", len, bin);
                args_free(NULL, c.args);
                iface_assoc_state_free(w, state);
            }
        }
    }
}

/* An Actions blob's counted string: 32-bit byte count, UTF-16LE (ASCII text here). */
static size_t blob_put_str(uint8_t *b, size_t at, const char *s)
{
    uint32_t n = (uint32_t)strlen(s) * 2;
    memcpy(b + at, &n, 4);
    for (size_t i = 0; s[i]; i++) {
        b[at + 4 + 2 * i] = (uint8_t)s[i];
        b[at + 5 + 2 * i] = 0;
    }
    return at + 4 + n;
}

static size_t blob_put_u16(uint8_t *b, size_t at, uint16_t v)
{
    b[at] = (uint8_t)v;
    b[at + 1] = (uint8_t)(v >> 8);
    return at + 2;
}

TEST(winreg_task_actions_blob)
{
    fresh_worker();
    void *state = NULL;
    open_hklm(true, false, 0x10, &state);
    open_key(true, false, 0x10,
             "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tasks\\"
             "{11111111-2222-3333-4444-555555555555}",
             0x16, &state);
    /* version 3: context, then one action of each kind */
    uint8_t b[1024];
    size_t at = blob_put_u16(b, 0, 3);
    at = blob_put_str(b, at, "Author");
    at = blob_put_u16(b, at, 0x6666);
    at = blob_put_str(b, at, "a1");
    at = blob_put_str(b, at, "C:\\x.exe");
    at = blob_put_str(b, at, "-q");
    at = blob_put_str(b, at, "");
    at = blob_put_u16(b, at, 0);
    at = blob_put_u16(b, at, 0x7777);
    at = blob_put_str(b, at, "");
    static const uint8_t clsid[16] = {0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56,
                                      0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78};
    memcpy(b + at, clsid, 16);
    at = blob_put_str(b, at + 16, "payload");
    at = blob_put_u16(b, at, 0x9999);
    at = blob_put_str(b, at, "");
    at = blob_put_str(b, at, "Title");
    at = blob_put_str(b, at, "Body");
    at = blob_put_u16(b, at, 0x8888);
    at = blob_put_str(b, at, "");
    static const char *const mail[] = {"f@x", "t@x", "", "", "", "smtp", "Subj", "text"};
    for (int i = 0; i < 8; i++)
        at = blob_put_str(b, at, mail[i]);
    memset(b + at, 0, 8); /* no attachments, no headers */
    at += 8;
    struct w sv = {.le = true};
    w_set_value(&sv, 0x16, "Actions", 3, b, at);
    struct rpc_call c;
    request(&c, 22, &sv, sv.n, &state);
    CHECK_EQ(c.route, RPC_ROUTE_REGISTRY);
    CHECK_EQ(c.cls, RPC_CLASS_MODIFY); /* the key was opened, not made */
    CHECK_STR(c.route_attack[0], "T1053.005");
    CHECK_STR(args_get(c.args, "args.task_id"), "{11111111-2222-3333-4444-555555555555}");
    CHECK_STR(args_get(c.args, "args.task.actions_context"), "Author");
    CHECK_STR(args_get(c.args, "args.task.actions.command"), "C:\\x.exe");
    CHECK_STR(args_get(c.args, "args.task.actions.arguments"), "-q");
    CHECK_STR(args_get(c.args, "args.task.actions.id"), "a1");
    CHECK_STR(args_get(c.args, "args.task.actions.class_id"),
              "12345678-1234-5678-9abc-def012345678");
    CHECK_STR(args_get(c.args, "args.task.actions.data"), "payload");
    CHECK_STR(args_get(c.args, "args.task.actions.caption"), "Title");
    CHECK_STR(args_get(c.args, "args.task.actions.subject"), "Subj");
    CHECK(args_find(c.args, "args.decode_incomplete") == NULL);
    args_free(NULL, c.args);

    /* version 1: no context, no flags */
    at = blob_put_u16(b, 0, 1);
    at = blob_put_u16(b, at, 0x6666);
    at = blob_put_str(b, at, "");
    at = blob_put_str(b, at, "cmd.exe");
    at = blob_put_str(b, at, "/c whoami");
    at = blob_put_str(b, at, "C:\\");
    struct w v1 = {.le = true};
    w_set_value(&v1, 0x16, "Actions", 3, b, at);
    request(&c, 22, &v1, v1.n, &state);
    CHECK_STR(args_get(c.args, "args.task.actions.command"), "cmd.exe");
    CHECK_STR(args_get(c.args, "args.task.actions.working_directory"), "C:\\");
    CHECK(!args_get(c.args, "args.task.actions_context"));
    args_free(NULL, c.args);

    /* broken blobs: a count past the end, an unknown kind, an unknown version */
    static const uint8_t bad[][12] = {
        {3, 0, 0xff, 0xff, 0, 0},
        {1, 0, 0x42, 0x42, 0, 0, 0, 0},
        {9, 0, 0x66, 0x66, 0, 0, 0, 0},
    };
    static const size_t bad_len[] = {6, 8, 8};
    for (int i = 0; i < 3; i++) {
        struct w bv = {.le = true};
        w_set_value(&bv, 0x16, "Actions", 3, bad[i], bad_len[i]);
        request(&c, 22, &bv, bv.n, &state);
        CHECK(args_find(c.args, "args.decode_incomplete") != NULL);
        CHECK_EQ(c.route, RPC_ROUTE_NONE);
        args_free(NULL, c.args);
    }
    iface_assoc_state_free(&worker, state);
}
