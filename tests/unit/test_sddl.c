/*
 * Security descriptors to SDDL (src/iface/sddl.c) on published and
 * independently built bytes: MS-DTYP 2.5.1.4's example, and descriptors that
 * impacket's ldaptypes built from known SDDL (tests/lab/sd_build.py), read
 * back to the same text; every truncation refused; SDDL text read for its
 * deny ACEs; RSetServiceObjectSecurity, SchRpcSetSecurity and
 * BaseRegSetKeySecurity stubs giving hidden_service / hidden_task.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../src/iface/sddl.h"
#include "harness.h"
#include "rpcsentry/args.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/iface.h"
#include "rpcsentry/worker.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; h[0] && h[1] && n < cap; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* MS-DTYP 2.5.1.4: the bytes the spec gives for its SDDL example. */
static const char dtyp_example[] =
    "010014b090000000a00000001400000030000000"
    "02001c000100000002801400000000800101000000000001000000000200600004000000"
    "000318000000"
    "00a00102000000000005200000002102000000031800000000100102000000000005"
    "2000000020020000000314000000001001010000000000051200000000031400"
    "00000010010100000000000300000000"
    "0102000000000005200000002002000001020000000000052000000020020000";

/* impacket ldaptypes, from the default service descriptor's SDDL */
static const char *default_service_sddl =
    "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)(A;;CCLCSWLOCRRC;;;IU)(A;;"
    "CCLCSWLOCRRC;;;SU)S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)";
static const char default_service_hex[] =
    "010014800000000000000000140000003000000002001c000100000002801400ff010f0001010000000000010000"
    "000002005c000400000000001400fd01020001010000000000051200000000001800ff010f000102000000000005"
    "2000000020020000000014008d010200010100000000000504000000000014008d0102000101000000000005060000"
    "00";

/* sc sdset's hiding DACL (with the default SACL), built the same way */
static const char *hiding_sddl =
    "D:(D;;DCLCWPDTSD;;;IU)(D;;DCLCWPDTSD;;;SU)(D;;DCLCWPDTSD;;;BA)(A;;CCLCSWLOCRRC;;;IU)(A;;"
    "CCLCSWLOCRRC;;;SU)(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)S:(AU;FA;"
    "CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)";
static const char hiding_hex[] =
    "010014800000000000000000140000003000000002001c000100000002801400ff010f0001010000000000010000"
    "000002009c0007000000010014006600010001010000000000050400000001001400660001000101000000000005"
    "06000000010018006600010001020000000000052000000020020000000014008d01020001010000000000050400"
    "0000000014008d01020001010000000000050600000000001400fd01020001010000000000051200000000001800ff"
    "010f0001020000000000052000000020020000";

/* owner, group, a protected auto-inherited DACL, a domain SID, FA as one code */
static const char owned_hex[] =
    "01000494540000006400000000000000140000000200400002000000010014006600010001010000000000050400"
    "000000032400ff011f00010500000000000515000000010000000200000003000000f40100000102000000000005"
    "2000000020020000010100000000000512000000";

/* an object ACE with its GUID, a deny of write only, a mask with a bit that has no letter */
static const char object_hex[] =
    "010004807000000000000000000000001400000004005c0003000000050228001000000001000000ba7a96bfe60d"
    "d011a28500aa003049e201010000000000050b00000001001400200000000101000000000005040000000000180001"
    "00100001020000000000052000000021020000010100000000000512000000";

static bool parse_hex(const char *hex, struct sd_view *v, const char **why, size_t *len)
{
    static uint8_t b[1024];
    *len = unhex(hex, b, sizeof b);
    return sd_parse(b, *len, v, why);
}

TEST(sddl_ms_dtyp_example)
{
    struct sd_view v;
    const char *why;
    size_t n;
    CHECK(parse_hex(dtyp_example, &v, &why, &n));
    CHECK_EQ(n, 0xb0);
    /* the spec writes the flags CIOI; Windows (and this) write them in bit order, OICI */
    CHECK_STR(v.sddl, "O:BAG:BAD:P(A;OICI;GRGX;;;BU)(A;OICI;GA;;;BA)(A;OICI;GA;;;SY)(A;OICI;GA;;;"
                      "CO)S:P(AU;FA;GR;;;WD)");
    CHECK_STR(v.owner, "BA");
    CHECK_EQ(v.n_aces, 4);
    CHECK_EQ(v.n_denies, 0);
}

TEST(sddl_round_trips_impacket_descriptors)
{
    struct sd_view v;
    const char *why;
    size_t n;
    CHECK(parse_hex(default_service_hex, &v, &why, &n));
    CHECK_STR(v.sddl, default_service_sddl);
    char who[32];
    CHECK(!sd_read_denied(&v, SD_SERVICE_READ_RIGHTS, who, sizeof who));

    CHECK(parse_hex(hiding_hex, &v, &why, &n));
    CHECK_STR(v.sddl, hiding_sddl);
    CHECK_EQ(v.n_denies, 3);
    CHECK_STR(v.deny[0].text, "(D;;DCLCWPDTSD;;;IU)");
    CHECK_EQ(v.deny[2].mask, 0x10066);
    CHECK(sd_read_denied(&v, SD_SERVICE_READ_RIGHTS, who, sizeof who));
    CHECK_STR(who, "IU SU BA");
    /* LC is SERVICE_QUERY_STATUS; for a task (a file's rights) 0x4 is FILE_APPEND_DATA */
    CHECK(!sd_read_denied(&v, SD_TASK_READ_RIGHTS, who, sizeof who));

    CHECK(parse_hex(owned_hex, &v, &why, &n));
    CHECK_STR(v.sddl, "O:BAG:SYD:PAI(D;;DCLCWPDTSD;;;IU)(A;OICI;FA;;;S-1-5-21-1-2-3-500)");

    CHECK(parse_hex(object_hex, &v, &why, &n));
    CHECK_STR(v.sddl, "O:SYD:(OA;CI;RP;bf967aba-0de6-11d0-a285-00aa003049e2;;AU)(D;;WP;;;IU)(A;;"
                      "0x100001;;;BU)");
    /* WP is SERVICE_STOP: denying it hides nothing */
    CHECK(!sd_read_denied(&v, SD_SERVICE_READ_RIGHTS, who, sizeof who));
}

TEST(sddl_every_truncation_and_corruption_refused)
{
    static const char *const all[] = {dtyp_example, default_service_hex, hiding_hex, owned_hex,
                                      object_hex};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        uint8_t b[1024];
        size_t n = unhex(all[k], b, sizeof b);
        struct sd_view v;
        const char *why = NULL;
        for (size_t len = 0; len < n; len++) {
            bool ok = sd_parse(b, len, &v, &why);
            if (ok)
                test_fail(__FILE__, __LINE__, "sample %zu cut to %zu bytes parsed", k, len);
            CHECK(why != NULL);
        }
        CHECK(sd_parse(b, n, &v, &why));
        /* every single byte flipped: parsed or refused with a reason, never past the end */
        for (size_t i = 0; i < n; i++) {
            uint8_t save = b[i];
            b[i] ^= 0xff;
            if (!sd_parse(b, n, &v, &why))
                CHECK(why != NULL);
            CHECK(strlen(v.sddl) < sizeof v.sddl);
            b[i] = save;
        }
    }
    uint8_t absolute[20] = {1, 0, 0x04, 0x00};
    struct sd_view v;
    const char *why;
    CHECK(!sd_parse(absolute, sizeof absolute, &v, &why));
    CHECK_STR(why, "the descriptor is not self-relative");
    uint8_t nulldacl[20] = {1, 0, 0x04, 0x80};
    CHECK(sd_parse(nulldacl, sizeof nulldacl, &v, &why));
    CHECK_STR(v.sddl, "D:NO_ACCESS_CONTROL");
    CHECK(v.null_dacl);
}

TEST(sddl_text_deny_aces)
{
    struct sd_view v;
    const char *why;
    char who[32];
    CHECK(sd_parse_sddl("O:BAG:SYD:(A;;FA;;;BA)(D;;GA;;;WD)(D;;FR;;;S-1-5-11)", &v, &why));
    CHECK_STR(v.owner, "BA");
    CHECK_STR(v.group, "SY");
    CHECK_EQ(v.n_aces, 3);
    CHECK_EQ(v.n_denies, 2);
    CHECK_STR(v.deny[1].sid, "AU");
    CHECK_EQ(v.deny[1].mask, 0x120089);
    CHECK(sd_read_denied(&v, SD_TASK_READ_RIGHTS, who, sizeof who));
    CHECK_STR(who, "WD AU");
    /* inherit-only: does not apply to the task itself */
    CHECK(sd_parse_sddl("D:P(D;OICIIO;GA;;;WD)(A;;FA;;;BA)", &v, &why));
    CHECK_EQ(v.n_denies, 1);
    CHECK(!sd_read_denied(&v, SD_TASK_READ_RIGHTS, who, sizeof who));
    /* write only */
    CHECK(sd_parse_sddl("D:(D;;FW;;;IU)", &v, &why));
    CHECK(!sd_read_denied(&v, SD_TASK_READ_RIGHTS, who, sizeof who));
    CHECK(sd_parse_sddl("D:(D;;0x1;;;BA)", &v, &why));
    CHECK(sd_read_denied(&v, SD_TASK_READ_RIGHTS, who, sizeof who));
    CHECK(!sd_parse_sddl("D:(D;;ZZ;;;WD)", &v, &why));
    CHECK(!sd_parse_sddl("D:(D;;GA;;;WD", &v, &why));
    CHECK(!sd_parse_sddl("D:(D;;GA)", &v, &why));
    CHECK(sd_parse_sddl("O:BA", &v, &why));
    CHECK(!v.has_dacl);
}

/* ---- the decoders that carry a descriptor ---- */

static struct worker worker;
static struct config cfg;
static struct flow_ref ref_flow;
static uint64_t tx;
static struct rpc_transport tcp = {.kind = RPC_TRANSPORT_TCP, .flow = &ref_flow, .tx_counter = &tx};

static const struct iface_def *by_name(const char *name)
{
    const struct iface_def *const *all;
    size_t n = iface_all(&all);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

static void run(struct rpc_call *c, const char *iface, uint16_t opnum, const uint8_t *b, size_t len,
                bool ndr64, void **state)
{
    config_defaults(&cfg);
    free(worker.scratch);
    memset(&worker, 0, sizeof worker);
    worker.cfg = &cfg;
    memset(c, 0, sizeof *c);
    c->kind = RPC_KIND_REQUEST;
    c->transport = &tcp;
    c->opnum = opnum;
    c->le = true;
    c->ctx.iface = by_name(iface);
    c->ctx.syntax = ndr64 ? RPC_SYNTAX_NDR64 : RPC_SYNTAX_NDR;
    c->res_ptype = RPC_PTYPE_NONE;
    c->iface_state = state;
    c->req_stub = b;
    c->req_stub_avail = len;
    c->req_stub_len = len;
    iface_request(&worker, c);
}

struct st {
    uint8_t b[2048];
    size_t n;
    bool ndr64;
};
static void put_le(struct st *s, uint64_t v, size_t size)
{
    while (s->n % size)
        s->b[s->n++] = 0;
    for (size_t i = 0; i < size; i++)
        s->b[s->n++] = (uint8_t)(v >> (8 * i));
}
static void put_size(struct st *s, uint64_t v)
{
    put_le(s, v, s->ndr64 ? 8 : 4);
}

/* RSetServiceObjectSecurity: handle, SECURITY_INFORMATION, [size_is] bytes, cbBufSize. */
static size_t set_service_security(struct st *s, const char *hex)
{
    uint8_t sd[1024];
    size_t n = unhex(hex, sd, sizeof sd);
    s->n = 0;
    memset(s->b, 0x11, 20);
    s->n = 20;
    put_le(s, 4, 4);
    put_size(s, n);
    memcpy(s->b + s->n, sd, n);
    s->n += n;
    put_le(s, n, 4);
    return s->n;
}

TEST(sddl_set_service_object_security_hides_the_service)
{
    for (int ndr64 = 0; ndr64 < 2; ndr64++) {
        struct st s = {.ndr64 = ndr64};
        set_service_security(&s, hiding_hex);
        struct rpc_call c;
        void *state = NULL;
        run(&c, "svcctl", 5, s.b, s.n, ndr64, &state);
        CHECK_STR(args_get(c.args, "args.security_descriptor.sddl"), hiding_sddl);
        CHECK_STR(args_get(c.args, "args.security_descriptor.read_denied_to"), "IU SU BA");
        CHECK_STR(args_get(c.args, "args.security_descriptor.dacl_denies"), "(D;;DCLCWPDTSD;;;IU)");
        CHECK_EQ(c.cls, RPC_CLASS_MODIFY);
        CHECK(c.indicators & (1u << IND_HIDDEN_SERVICE));
        CHECK(!(c.indicators & (1u << IND_HIDDEN_TASK)));
        CHECK_STR(args_get(c.args, "indicators.value"),
                  "denied to IU SU BA: (D;;DCLCWPDTSD;;;IU) (D;;DCLCWPDTSD;;;SU) "
                  "(D;;DCLCWPDTSD;;;BA)");
        args_free(NULL, c.args);
        iface_assoc_state_free(&worker, state);

        set_service_security(&s, default_service_hex);
        state = NULL;
        run(&c, "svcctl", 5, s.b, s.n, ndr64, &state);
        CHECK_STR(args_get(c.args, "args.security_descriptor.sddl"), default_service_sddl);
        CHECK(!(c.indicators & (1u << IND_HIDDEN_SERVICE)));
        args_free(NULL, c.args);
        iface_assoc_state_free(&worker, state);
    }
}

/* impacket 0.10's RSetServiceObjectSecurity puts a referent id before the [ref] array */
TEST(sddl_set_service_object_security_with_a_referent)
{
    uint8_t sd[1024];
    size_t n = unhex(hiding_hex, sd, sizeof sd);
    struct st s = {.ndr64 = false};
    memset(s.b, 0x11, 20);
    s.n = 20;
    put_le(&s, 4, 4);
    put_le(&s, 0xda11, 4);
    put_le(&s, n, 4);
    memcpy(s.b + s.n, sd, n);
    s.n += n;
    put_le(&s, n, 4);
    struct rpc_call c;
    void *state = NULL;
    run(&c, "svcctl", 5, s.b, s.n, false, &state);
    CHECK_STR(args_get(c.args, "args.security_descriptor.sddl"), hiding_sddl);
    CHECK(c.indicators & (1u << IND_HIDDEN_SERVICE));
    CHECK_EQ(worker.anomalies[ANOM_STUB_MALFORMED], 0);
    args_free(NULL, c.args);
    iface_assoc_state_free(&worker, state);
}

TEST(sddl_set_service_object_security_cut_and_corrupt)
{
    struct st s = {.ndr64 = false};
    size_t n = set_service_security(&s, hiding_hex);
    for (size_t len = 1; len < n; len++) {
        struct rpc_call c;
        void *state = NULL;
        run(&c, "svcctl", 5, s.b, len, false, &state);
        CHECK(!(c.indicators & (1u << IND_HIDDEN_SERVICE)));
        CHECK(args_get(c.args, "args.security_descriptor.sddl") == NULL);
        CHECK(worker.anomalies[ANOM_STUB_MALFORMED] == 1);
        args_free(NULL, c.args);
        iface_assoc_state_free(&worker, state);
    }
    /* a descriptor (at 28) whose DACL offset points past it: an error and its anomaly */
    s.b[28 + 16] = 0xf0;
    struct rpc_call c;
    void *state = NULL;
    run(&c, "svcctl", 5, s.b, n, false, &state);
    CHECK_STR(args_get(c.args, "args.security_descriptor.error"),
              "an ACL offset runs past the descriptor");
    CHECK(worker.anomalies[ANOM_STUB_MALFORMED] == 1);
    args_free(NULL, c.args);
    iface_assoc_state_free(&worker, state);
}

static void put_cvs(struct st *s, const char *str)
{
    size_t n = strlen(str) + 1;
    put_size(s, n);
    put_size(s, 0);
    put_size(s, n);
    for (size_t i = 0; i < n; i++)
        put_le(s, (unsigned char)str[i], 2);
}

TEST(sddl_task_security_hides_the_task)
{
    struct st s = {.ndr64 = false};
    put_cvs(&s, "\\Updater");
    put_cvs(&s, "D:(D;;GA;;;WD)(A;;FA;;;BA)(A;;FA;;;SY)");
    put_le(&s, 0, 4);
    struct rpc_call c;
    void *state = NULL;
    run(&c, "ITaskSchedulerService", 4, s.b, s.n, false, &state);
    CHECK_STR(args_get(c.args, "args.sddl"), "D:(D;;GA;;;WD)(A;;FA;;;BA)(A;;FA;;;SY)");
    CHECK_STR(args_get(c.args, "args.security_descriptor.read_denied_to"), "WD");
    CHECK(args_get(c.args, "args.security_descriptor.sddl") == NULL);
    CHECK(c.indicators & (1u << IND_HIDDEN_TASK));
    args_free(NULL, c.args);

    /* an ordinary task SDDL adds nothing to the record */
    s.n = 0;
    put_cvs(&s, "\\Updater");
    put_cvs(&s, "D:(A;;FA;;;BA)(A;;FRFX;;;AU)");
    put_le(&s, 0, 4);
    run(&c, "ITaskSchedulerService", 4, s.b, s.n, false, &state);
    CHECK(args_find(c.args, "args.security_descriptor") == NULL);
    CHECK(!(c.indicators & (1u << IND_HIDDEN_TASK)));
    args_free(NULL, c.args);
}
