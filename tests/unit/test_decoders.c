/*
 * Stub decoders on hand-made stubs: NDR and NDR64, both byte orders,
 * truncation at every byte, absurd counts; the task XML reader on hostile
 * documents; the argument tree's bounds.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../src/iface/taskxml.h"
#include "harness.h"
#include "ndr_writer.h"
#include "rpcsentry/args.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/iface.h"
#include "rpcsentry/ndr.h"
#include "rpcsentry/worker.h"

/* ---- stubs on ndr_writer.h, as tests/gen/ndrgen.py writes them ---- */

/* A conformant varying string; counts as given (so tests can lie). */
static void w_cvs_counts(struct w *w, const char *s, uint64_t max, uint64_t off, uint64_t actual)
{
    w_size(w, max);
    w_size(w, off);
    w_size(w, actual);
    for (size_t i = 0; i <= strlen(s); i++)
        w_uint(w, (unsigned char)s[i], 2);
}

static void w_cvs(struct w *w, const char *s)
{
    uint64_t n = strlen(s) + 1;
    w_cvs_counts(w, s, n, 0, n);
}

static void w_unique_cvs(struct w *w, const char *s)
{
    w_size(w, s ? 0x20000 : 0);
    if (s)
        w_cvs(w, s);
}

/* RCreateServiceW as ndrgen.create_service writes it. */
static void w_create_service(struct w *w, const char *name, const char *bin)
{
    w_handle(w, 0x51);
    w_cvs(w, name);
    w_unique_cvs(w, name);
    w_u32(w, 0xf01ff);
    w_u32(w, 0x10);
    w_u32(w, 3);
    w_u32(w, 0);
    w_cvs(w, bin);
    w_unique_cvs(w, NULL);
    w_size(w, 0); /* tag id */
    w_size(w, 0); /* dependencies */
    w_u32(w, 0);
    w_unique_cvs(w, NULL);
    w_size(w, 0); /* password */
    w_u32(w, 0);
}

/* ---- running a decoder as the pipeline does ---- */

static struct worker *test_worker(void)
{
    static struct worker w;
    static struct config cfg;
    config_defaults(&cfg);
    free(w.scratch); /* what the last decoder allocated, as worker_teardown would */
    memset(&w, 0, sizeof w);
    w.cfg = &cfg;
    return &w;
}

static const struct iface_def *by_name(const char *name)
{
    const struct iface_def *const *all;
    size_t n = iface_all(&all);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

static struct flow_ref ref_flow; /* the flow a call belongs to: no flow record needed */
static uint64_t tx;
static struct rpc_transport tcp = {.kind = RPC_TRANSPORT_TCP, .flow = &ref_flow, .tx_counter = &tx};

/* Decodes a request stub; the caller frees call->args. */
static void run_request(struct rpc_call *c, const char *iface, uint16_t opnum, const struct w *st,
                        size_t len, void **state)
{
    memset(c, 0, sizeof *c);
    c->kind = RPC_KIND_REQUEST;
    c->transport = &tcp;
    c->opnum = opnum;
    c->le = st->le;
    c->ctx.iface = by_name(iface);
    c->ctx.syntax = st->ndr64 ? RPC_SYNTAX_NDR64 : RPC_SYNTAX_NDR;
    c->res_ptype = RPC_PTYPE_NONE;
    c->iface_state = state;
    c->req_stub = st->b;
    c->req_stub_avail = len;
    c->req_stub_len = len;
    iface_request(test_worker(), c);
}

TEST(create_service_in_all_encodings)
{
    for (int enc = 0; enc < 4; enc++) {
        struct w st = {.le = !(enc & 1), .ndr64 = (enc & 2) != 0};
        w_create_service(&st, "updsvc", "C:\\Windows\\Temp\\u.exe");
        struct rpc_call c;
        void *state = NULL;
        run_request(&c, "svcctl", 12, &st, st.n, &state);
        CHECK_STR(args_get(c.args, "args.service_name"), "updsvc");
        CHECK_STR(args_get(c.args, "args.binary_path"), "C:\\Windows\\Temp\\u.exe");
        CHECK_STR(args_get(c.args, "args.start_type"), "demand_start");
        CHECK(args_find(c.args, "args.decode_incomplete") == NULL);
        CHECK(c.indicators & (1u << IND_USER_WRITABLE));
        CHECK_EQ(c.cls, RPC_CLASS_CREATE);
        args_free(NULL, c.args);
        iface_assoc_state_free(test_worker(), state);
    }
}

TEST(create_service_cut_at_every_byte)
{
    struct w st = {.le = true};
    w_create_service(&st, "updsvc", "C:\\x.exe");
    for (size_t len = 1; len < st.n; len++) {
        struct rpc_call c;
        void *state = NULL;
        run_request(&c, "svcctl", 12, &st, len, &state);
        /* short stubs never claim to be complete, and what they give is a prefix of the truth */
        const struct rpc_arg *inc = args_find(c.args, "args.decode_incomplete");
        if (!inc || !inc->num)
            test_fail(__FILE__, __LINE__, "stub cut at %zu of %zu decoded as complete", len, st.n);
        const char *bin = args_get(c.args, "args.binary_path");
        if (bin && strcmp(bin, "C:\\x.exe") != 0)
            test_fail(__FILE__, __LINE__, "cut at %zu: binary path %s", len, bin);
        args_free(NULL, c.args);
        iface_assoc_state_free(test_worker(), state);
    }
}

TEST(ndr_string_rejects_absurd_counts)
{
    struct {
        uint64_t max, off, actual;
    } bad[] = {
        {4, 0, 5},                   /* more characters than the maximum */
        {4, 5, 1},                   /* offset past the maximum */
        {0xffffffff, 0, 0xffffffff}, /* claims 8 GB of characters */
        {6, 3, 4},                   /* offset + actual beyond the maximum */
    };
    for (int ndr64 = 0; ndr64 < 2; ndr64++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            struct w st = {.le = true, .ndr64 = ndr64};
            w_cvs_counts(&st, "abc", bad[i].max, bad[i].off, bad[i].actual);
            struct ndr n = ndr_init(st.b, st.n, ndr64, true);
            char out[64] = "untouched";
            ndr_string(&n, true, out, sizeof out, NULL);
            CHECK(!ndr_ok(&n));
            CHECK_STR(out, "");
        }
    /* and a coherent one reads, with the cursor left after it */
    struct w st = {.le = false, .ndr64 = true};
    w_cvs(&st, "svc");
    w_u32(&st, 0xdeadbeef);
    struct ndr n = ndr_init(st.b, st.n, true, false);
    char out[16];
    CHECK_EQ(ndr_string(&n, true, out, sizeof out, NULL), 4);
    CHECK_STR(out, "svc");
    CHECK_EQ(ndr_u32(&n), 0xdeadbeef);
    CHECK(ndr_ok(&n));
}

TEST(start_service_with_absurd_argument_count)
{
    struct w st = {.le = true};
    w_handle(&st, 0x52);
    w_u32(&st, 0x7fffffff);  /* argc */
    w_size(&st, 0x20000);    /* argv present */
    w_size(&st, 0x7fffffff); /* conformance = argc, absurd */
    struct rpc_call c;
    void *state = NULL;
    run_request(&c, "svcctl", 19, &st, st.n, &state);
    const struct rpc_arg *inc = args_find(c.args, "args.decode_incomplete");
    CHECK(inc && inc->num);
    args_free(NULL, c.args);
    iface_assoc_state_free(test_worker(), state);
}

/* The answer to a call decoded by run_request: its stub read as the pipeline does. */
static void run_response(struct rpc_call *c, const struct w *st)
{
    c->res_ptype = 2; /* response */
    c->res_stub = st->b;
    c->res_stub_avail = st->n;
    c->res_stub_len = st->n;
    struct worker *w = test_worker();
    iface_complete(w, c);
    story_table_free(w); /* the call was noted for stories */
}

/* The service a handle names, as a later call on it reads it (NULL when none). */
static const char *service_of_handle(uint8_t tag, void **state, struct rpc_args **keep)
{
    struct w st = {.le = true};
    w_handle(&st, tag);
    struct rpc_call c;
    run_request(&c, "svcctl", 19, &st, st.n, state); /* RStartServiceW */
    *keep = c.args;
    return args_get(c.args, "args.service_name");
}

TEST(service_handles_grow_from_a_few_and_the_oldest_give_way)
{
    /* 70 services created on one association, each answered with its own handle:
     * the table grows from 4 to 64 and the first 6 handles are the ones replaced */
    void *state = NULL;
    for (int i = 0; i < 70; i++) {
        char name[16];
        snprintf(name, sizeof name, "svc%d", i);
        struct w req = {.le = true};
        w_create_service(&req, name, "C:\\x.exe");
        struct rpc_call c;
        run_request(&c, "svcctl", 12, &req, req.n, &state);
        struct w res = {.le = true};
        w_size(&res, 0);                     /* lpdwTagId: null */
        w_handle(&res, (uint8_t)(0x80 + i)); /* lpServiceHandle */
        w_u32(&res, 0);                      /* ERROR_SUCCESS */
        run_response(&c, &res);
        args_free(NULL, c.args);
    }
    for (int i = 0; i < 70; i++) {
        struct rpc_args *a;
        const char *svc = service_of_handle((uint8_t)(0x80 + i), &state, &a);
        char want[16];
        snprintf(want, sizeof want, "svc%d", i);
        if (i < 6)
            CHECK(svc == NULL);
        else
            CHECK_STR(svc ? svc : "(none)", want);
        args_free(NULL, a);
    }
    iface_assoc_state_free(test_worker(), state);
}

/* SchRpcRegisterTask around an XML document. */
static void w_register(struct w *st, const char *xml, uint32_t flags)
{
    w_unique_cvs(st, "\\T");
    w_cvs(st, xml);
    w_u32(st, flags);
    w_unique_cvs(st, NULL);
    w_u32(st, 3);
    w_u32(st, 0);
    w_size(st, 0);
}

TEST(register_task_flags_decide_the_class)
{
    const char *xml = "<Task><Actions><Exec><Command>a.exe</Command></Exec></Actions></Task>";
    struct {
        uint32_t flags;
        enum rpc_class cls;
        const char *detail;
    } cases[] = {
        {0x2, RPC_CLASS_CREATE, NULL},
        {0x4, RPC_CLASS_MODIFY, "update"},
        {0x6, RPC_CLASS_CREATE, "create_or_update"},
        {0x1, RPC_CLASS_READ, "validate_only"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct w st = {.le = true, .ndr64 = i & 1};
        w_register(&st, xml, cases[i].flags);
        struct rpc_call c;
        void *state = NULL;
        run_request(&c, "ITaskSchedulerService", 1, &st, st.n, &state);
        CHECK_EQ(c.cls, cases[i].cls);
        CHECK((c.class_detail == NULL) == (cases[i].detail == NULL));
        if (cases[i].detail && c.class_detail)
            CHECK_STR(c.class_detail, cases[i].detail);
        CHECK_STR(args_get(c.args, "args.task.actions.command"), "a.exe");
        args_free(NULL, c.args);
    }
}

/* Parses xml into a fresh tree; returns the status. */
static enum taskxml_status xml_parse(const char *xml, struct rpc_args **out)
{
    *out = args_new(NULL);
    return taskxml_parse(xml, strlen(xml), *out, 0);
}

TEST(task_xml_references_are_decoded_and_entities_limited)
{
    struct rpc_args *a;
    /* numeric references cannot hide the program from matching */
    CHECK_EQ(xml_parse("<Task><Actions><Exec><Command>&#99;&#x6D;d.exe</Command>"
                       "<Arguments>/c a &amp;&amp; b &lt;x&gt; &quot;q&quot; &apos;</Arguments>"
                       "</Exec></Actions></Task>",
                       &a),
             TASKXML_OK);
    CHECK_STR(args_get(a, "task.actions.command"), "cmd.exe");
    CHECK_STR(args_get(a, "task.actions.arguments"), "/c a && b <x> \"q\" '");
    args_free(NULL, a);
    /* no DTD, so no other entity exists */
    CHECK_EQ(xml_parse("<!DOCTYPE Task [<!ENTITY x \"cmd.exe\">]><Task/>", &a), TASKXML_DOCTYPE);
    args_free(NULL, a);
    CHECK_EQ(xml_parse("<Task><Actions><Exec><Command>&x;</Command></Exec></Actions></Task>", &a),
             TASKXML_MALFORMED);
    args_free(NULL, a);
}

TEST(task_xml_malformed_and_deep_documents)
{
    static const char *bad[] = {
        "<Task><Actions></Task>",     /* crossed */
        "<Task>",                     /* unclosed */
        "</Task>",                    /* closing first */
        "<Task></Task><Task></Task>", /* two roots */
        "<Task a=\"1></Task>",        /* unterminated attribute */
        "<Task><!-- never closed </Task>",
        "<Task><![CDATA[ never closed </Task>",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rpc_args *a;
        if (xml_parse(bad[i], &a) == TASKXML_OK)
            test_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
        args_free(NULL, a);
    }
    char deep[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "<a>");
    struct rpc_args *a;
    CHECK_EQ(xml_parse(deep, &a), TASKXML_TOO_DEEP);
    args_free(NULL, a);
}

TEST(task_xml_namespaces_comments_and_many_actions)
{
    struct rpc_args *a;
    CHECK_EQ(xml_parse("<?xml version=\"1.0\"?><t:Task xmlns:t=\"x\"><!-- c --><t:Actions "
                       "Context=\"Author\"><t:Exec><t:Command>one</t:Command></t:Exec>"
                       "<t:ComHandler><t:ClassId>{1}</t:ClassId></t:ComHandler>"
                       "<t:Exec><t:Command><![CDATA[two & three]]></t:Command></t:Exec>"
                       "</t:Actions><t:Settings><t:Hidden>TRUE</t:Hidden></t:Settings></t:Task>",
                       &a),
             TASKXML_OK);
    CHECK_STR(args_get(a, "task.actions_context"), "Author");
    CHECK_STR(args_get(a, "task.actions.class_id"), "{1}");
    const struct rpc_arg *hidden = args_find(a, "task.hidden");
    CHECK(hidden && hidden->type == ARG_BOOL && hidden->num);
    /* every Exec action is reachable for matching */
    int seen = 0;
    const char *want[] = {"one", "two & three"};
    uint16_t acts = args_child(a, args_child(a, 0, "task"), "actions");
    for (uint16_t i = a->node[acts].first; i != ARGS_NONE; i = a->node[i].next) {
        uint16_t cmd = args_child(a, i, "command");
        if (cmd != ARGS_NONE && seen < 2)
            CHECK_STR(args_value(a, cmd), want[seen++]);
    }
    CHECK_EQ(seen, 2);
    args_free(NULL, a);
}

TEST(argument_tree_bounds)
{
    struct rpc_args *a = args_new(NULL);
    uint16_t s = args_section(a, "args");
    static char big[ARGS_ARENA];
    memset(big, 'x', sizeof big);
    args_strn(a, s, "first", big, ARGS_ARENA - 300); /* leaves 299 bytes */
    CHECK(!a->truncated);
    /* the second does not fit: it is cut, and not inside its 3-byte character at 297..299 */
    static char second[400];
    memset(second, 'y', sizeof second);
    memcpy(second + 297, "\xe2\x82\xac", 3);
    args_strn(a, s, "second", second, sizeof second);
    CHECK(a->truncated);
    const char *v = args_get(a, "args.second");
    CHECK(v != NULL);
    if (v)
        CHECK_EQ(strlen(v), 297);
    CHECK(a->used <= ARGS_ARENA);
    /* more nodes than fit are refused, not written past the table */
    for (int i = 0; i < ARGS_MAX_NODES + 10; i++)
        args_num(a, s, "n", (uint64_t)i);
    CHECK_EQ(a->n, ARGS_MAX_NODES);
    args_free(NULL, a);
}

/* A memcap spent to the last byte, reserve included: the call says so and is counted. */
TEST(arguments_with_no_memory_left_are_flagged_and_counted)
{
    struct w st = {.le = true};
    w_create_service(&st, "updsvc", "C:\\Windows\\Temp\\u.exe");
    struct rpc_call c;
    memset(&c, 0, sizeof c);
    c.kind = RPC_KIND_REQUEST;
    c.transport = &tcp;
    c.opnum = 12;
    c.le = true;
    c.ctx.iface = by_name("svcctl");
    c.ctx.syntax = RPC_SYNTAX_NDR;
    c.res_ptype = RPC_PTYPE_NONE;
    void *state = NULL;
    c.iface_state = &state;
    c.req_stub = st.b;
    c.req_stub_avail = c.req_stub_len = st.n;
    struct worker *w = test_worker();
    w->mem.total_cap = 4096;
    w->mem.total_used = 4096 + 256; /* the cap and all of its reserve but 0 bytes */
    iface_request(w, &c);
    CHECK(c.args == NULL);
    CHECK(c.flags & RPC_F_ARGS_MEMCAP);
    CHECK_EQ(c.cls, RPC_CLASS_CREATE); /* the operation is still known and judged */
    CHECK_EQ(w->stats.dce_memcap, 1);
    CHECK_EQ(w->anomalies[ANOM_DCE_MEMCAP], 1);
    w->mem.total_used = 0;
    iface_assoc_state_free(w, state);
}
