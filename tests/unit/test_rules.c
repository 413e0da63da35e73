/*
 * The rule language: what the parser accepts and how it says no, and the
 * matcher's semantics on hand-made calls (Suricata's content modifiers,
 * pcre, byte_test/byte_jump, bsize, the DCE/RPC keywords, headers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/detect/detect_internal.h"
#include "harness.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/iface.h"
#include "rpcsentry/rpc_call.h"

static struct rule *parse(const char *text, char *err, size_t n)
{
    err[0] = '\0';
    return rule_parse(text, "t.rules", 1, err, n);
}

/* ---- the parser ---- */

TEST(rules_parse_the_suricata_forms)
{
    static const char *good[] = {
        "alert dcerpc any any -> any any (msg:\"x\"; "
        "dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003; sid:1;)",
        "alert tcp any any -> any [135,139,445,1024:] "
        "(dce_iface:afa8bd80-7d8a-11c9-bef4-08002b102989,=1,any_frag; sid:2;)",
        "alert dcerpc any any -> any ![139,445] (dcerpc.opnum:26; content:\"|00 00|\"; endswith; "
        "sid:3;)",
        "alert smb $HOME_NET any -> $EXTERNAL_NET any (dcerpc.opnum:1-5,7,12-65535; sid:4; rev:3; "
        "gid:1;)",
        "alert tcp 10.0.0.0/8 !1024: <> [192.168.1.1,!192.168.1.2] any (content:\"a\\;b\\\"c\"; "
        "sid:5;)",
        "pass dcerpc any any -> any any (rpc.class:read; sid:6;)",
        "drop dcerpc any any -> any any (flow:established,to_server; sid:7;)",
        "alert dcerpc any any -> any any (dcerpc.stub_data; content:\"a\"; offset:2; depth:4; "
        "content:!\"b\"; distance:0; within:3; pcre:\"/c+/R\"; byte_test:2,>,1,0,relative,dce; "
        "byte_jump:2,0,relative,little,post_offset 1; bsize:>3; sid:8;)",
        "alert dcerpc any any -> any any (rpc.service_binary; content:\"cmd\"; nocase; "
        "rpc.named_pipe; content:\"svcctl\"; rpc.indicator:any; rpc.auth_level:>=packet; sid:9;)",
        "alert dcerpc any any -> any any (rpc.interface:svcctl,ATSvc; "
        "rpc.operation:RCreateServiceW; "
        "rpc.transport:ncacn_np; rpc.sealed:false; rpc.target; classtype:attempted-admin; "
        "metadata:a b, c d; reference:url,example.org/x; reference:cve,2020-1472; sid:10;)",
        "alert dcerpc any any -> any any (rpc.arg:args.service_name; content:\"PSEXESVC\"; "
        "sid:11;)",
        "alert dcerpc any any -> any any (rpc.story:service_create_start_delete; sid:12;)",
    };
    char err[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct rule *r = parse(good[i], err, sizeof err);
        if (!r)
            test_fail(__FILE__, __LINE__, "rule %zu refused: %s", i, err);
        rule_free(r);
    }
    /* a few fields, to be sure they were read as meant */
    struct rule *r = parse(good[9], err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ(r->info.severity, 1); /* attempted-admin's priority */
        CHECK_STR(r->info.category, "Attempted Administrator Privilege Gain");
        CHECK_EQ(r->info.n_refs, 2);
        CHECK_STR(r->info.references[0], "https://example.org/x");
        CHECK_STR(r->info.references[1],
                  "https://cve.mitre.org/cgi-bin/cvename.cgi?name=2020-1472");
        CHECK_EQ(r->transport, RPC_TRANSPORT_NP);
        CHECK_EQ(r->sealed, 0);
        CHECK_EQ(r->target, 1);
        rule_free(r);
    }
    r = parse(good[3], err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ(r->n_opnums, 3);
        CHECK_EQ(r->opnums[0].lo, 1);
        CHECK_EQ(r->opnums[0].hi, 5);
        CHECK_EQ(r->opnums[2].lo, 12);
        CHECK_EQ(r->opnums[2].hi, 65535);
        CHECK_EQ(r->info.rev, 3);
        rule_free(r);
    }
}

TEST(rules_refuse_what_users_get_wrong_and_say_why)
{
    static const struct {
        const char *rule, *says;
    } bad[] = {
        {"alert dcerpc any any -> any any (msg:\"x\";)", "no sid"},
        {"alert dcerpc any any any any (sid:1;)", "header has 6 fields"},
        {"alert dcerpc any any => any any (sid:1;)", "direction must be"},
        {"alert http any any -> any any (sid:1;)", "protocol http"},
        {"alrt dcerpc any any -> any any (sid:1;)", "unknown action"},
        {"alert dcerpc any any -> any any (sid:1)", "without a closing ';'"},
        {"alert dcerpc any any -> any any sid:1;", "expected: action proto"},
        {"alert dcerpc any any -> any any (msg:\"x; sid:1;)", "unterminated quote"},
        {"alert dcerpc any any -> any any (msg:x; sid:1;)", "double quotes"},
        {"alert dcerpc any any -> any any (sid:abc;)", "sid: not a number"},
        {"alert dcerpc any any -> any any (dcerpc.iface:not-a-uuid; sid:1;)", "not a UUID"},
        {"alert dcerpc any any -> any any (dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003,~2; "
         "sid:1;)",
         "expected <, >, = or !"},
        {"alert dcerpc any any -> any any (dcerpc.opnum:5-2; sid:1;)", "not a range"},
        {"alert dcerpc any any -> any any (dcerpc.opnum:70000; sid:1;)", "not a number"},
        {"alert dcerpc any any -> any any (dcerpc.opnum:<0; sid:1;)", "matches nothing"},
        {"alert dcerpc any any -> any any (content:\"|4|\"; sid:1;)", "odd number of hex digits"},
        {"alert dcerpc any any -> any any (content:\"|4g|\"; sid:1;)", "in a hex section"},
        {"alert dcerpc any any -> any any (content:\"|41\"; sid:1;)", "unclosed | hex section"},
        {"alert dcerpc any any -> any any (content:\"\"; sid:1;)", "content is empty"},
        {"alert dcerpc any any -> any any (depth:4; sid:1;)", "without a preceding content"},
        {"alert dcerpc any any -> any any (content:\"a\"; depth:0; sid:1;)", "depth must be"},
        {"alert dcerpc any any -> any any (content:\"a\"; within:x; sid:1;)", "not a number"},
        {"alert dcerpc any any -> any any (pcre:\"/a/\"; nocase; sid:1;)", "nocase applies"},
        {"alert dcerpc any any -> any any (pcre:\"a\"; sid:1;)", "expected /regex/flags"},
        {"alert dcerpc any any -> any any (pcre:\"/(/\"; sid:1;)", "pcre:"},
        {"alert dcerpc any any -> any any (pcre:\"/a/Z\"; sid:1;)", "unknown flag 'Z'"},
        {"alert dcerpc any any -> any any (byte_test:9,=,1,0; sid:1;)", "1..8"},
        {"alert dcerpc any any -> any any (byte_test:2,~,1,0; sid:1;)", "unknown operator"},
        {"alert dcerpc any any -> any any (byte_test:2,=,1,0,string,dec; sid:1;)", "not supported"},
        {"alert dcerpc any any -> any any (byte_jump:2; sid:1;)", "too few arguments"},
        {"alert dcerpc any any -> any any (bsize:3; sid:1;)", "needs a sticky buffer"},
        {"alert dcerpc any any -> any any (dcerpc.stub_data; bsize:5<>6; sid:1;)", "room between"},
        {"alert dcerpc any any -> any any (rpc.class:steal; sid:1;)", "unknown class steal"},
        {"alert dcerpc any any -> any any (rpc.indicator:weird; sid:1;)", "unknown indicator"},
        {"alert dcerpc any any -> any any (rpc.transport:udp; sid:1;)", "expected ncacn_np"},
        {"alert dcerpc any any -> any any (rpc.auth_level:secret; sid:1;)", "not a level"},
        {"alert dcerpc any any -> any any (rpc.sealed:maybe; sid:1;)", "true or false"},
        {"alert dcerpc any any -> any any (rpc.arg; sid:1;)", "needs a path"},
        {"alert dcerpc any any -> any any (classtype:nonsense; sid:1;)", "unknown class nonsense"},
        {"alert dcerpc any any -> any any (reference:nowhere; sid:1;)", "expected type,value"},
        {"alert dcerpc any any -> any any (reference:gopher,x; sid:1;)", "unknown type gopher"},
        {"alert dcerpc any any -> any any (flow:sideways; sid:1;)", "unknown option sideways"},
        {"alert dcerpc 10.0.0.300 any -> any any (sid:1;)", "not an address"},
        {"alert dcerpc 10.0.0.0/33 any -> any any (sid:1;)", "not an address"},
        {"alert dcerpc $NOPE any -> any any (sid:1;)", "unknown address variable"},
        {"alert dcerpc !any any -> any any (sid:1;)", "!any matches nothing"},
        {"alert dcerpc [10.0.0.1 any -> any any (sid:1;)", "unbalanced ["},
        {"alert dcerpc any 70000 -> any any (sid:1;)", "not a port"},
        {"alert dcerpc any 9:5 -> any any (sid:1;)", "not a port"},
        {"alert dcerpc any $PORTS -> any any (sid:1;)", "port variables"},
        {"alert dcerpc any any -> any any (frame:dcerpc.hdr; sid:1;)", "unknown keyword frame"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rule *r = parse(bad[i].rule, err, sizeof err);
        if (r) {
            test_fail(__FILE__, __LINE__, "accepted: %s", bad[i].rule);
            rule_free(r);
        } else if (!strstr(err, bad[i].says)) {
            test_fail(__FILE__, __LINE__, "%s\n  said \"%s\", expected \"%s\"", bad[i].rule, err,
                      bad[i].says);
        }
    }
}

TEST(rules_long_content_is_accepted)
{
    /* Suricata's zerologon rule carries a 516-byte content */
    char text[4096];
    int n = snprintf(text, sizeof text, "alert dcerpc any any -> any any (content:\"|");
    for (int i = 0; i < 516; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "00 ");
    snprintf(text + n, sizeof text - (size_t)n, "|\"; sid:1;)");
    char err[256];
    struct rule *r = parse(text, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ(r->pat[0].len, 516);
        rule_free(r);
    }
}

/* ---- the matcher ---- */

static struct flow_ref mflow; /* the flow a call belongs to: no flow record needed */
static uint64_t mtx;
static struct rpc_transport mtcp = {.kind = RPC_TRANSPORT_TCP, .flow = &mflow, .tx_counter = &mtx};

/* A request from 10.0.0.1:50000 to 10.0.0.2:445 on svcctl 2.0 with the given stub. */
static void make_call(struct rpc_call *c, const void *stub, size_t len, bool le)
{
    memset(&mflow, 0, sizeof mflow);
    mflow.key.ipver = 4;
    mflow.key.addr[0][0] = 10, mflow.key.addr[0][3] = 1;
    mflow.key.addr[1][0] = 10, mflow.key.addr[1][3] = 2;
    mflow.key.port[0] = 50000;
    mflow.key.port[1] = 445;
    mflow.client = 0;
    memset(c, 0, sizeof *c);
    c->kind = RPC_KIND_REQUEST;
    c->req_ptype = 0;
    c->res_ptype = RPC_PTYPE_NONE;
    c->transport = &mtcp;
    c->client_ep = 0;
    c->le = le;
    c->opnum = 12;
    uuid_parse("367abb81-9844-35f1-ad32-98f038001003", &c->ctx.uuid);
    c->ctx.ver_major = 2;
    c->ctx.ack_result = 0;
    c->req_stub = stub;
    c->req_stub_avail = len;
    c->req_stub_len = len;
}

static int matches(const char *options, const struct rpc_call *c)
{
    char text[2048], err[256];
    snprintf(text, sizeof text, "alert dcerpc any any -> any any (%s sid:1;)", options);
    struct rule *r = rule_parse(text, "t.rules", 1, err, sizeof err);
    if (!r) {
        test_fail(__FILE__, __LINE__, "refused: %s: %s", options, err);
        return -1;
    }
    int hit = rule_match_call(r, c, false) && rule_match_patterns(r, c, false);
    rule_free(r);
    return hit;
}

#define EXPECT(opts, want)                                                                         \
    do {                                                                                           \
        int got_ = matches(opts, &c);                                                              \
        if (got_ != (want))                                                                        \
            test_fail(__FILE__, __LINE__, "%s: %s", opts, got_ ? "matched" : "did not match");     \
    } while (0)

TEST(content_modifiers_follow_suricata)
{
    static const char stub[] = "abcdefabcxyz";
    struct rpc_call c;
    make_call(&c, stub, sizeof stub - 1, true);
    EXPECT("dcerpc.stub_data; content:\"abc\";", 1);
    EXPECT("dcerpc.stub_data; content:\"ABC\";", 0);
    EXPECT("dcerpc.stub_data; content:\"ABC\"; nocase;", 1);
    EXPECT("dcerpc.stub_data; content:\"def\"; offset:3; depth:3;", 1);
    EXPECT("dcerpc.stub_data; content:\"def\"; offset:4;", 0);
    EXPECT("dcerpc.stub_data; content:\"def\"; depth:5;", 0);
    /* distance/within count from the end of the previous match; backtracking finds the 2nd abc */
    EXPECT("dcerpc.stub_data; content:\"abc\"; content:\"xyz\"; distance:0; within:3;", 1);
    EXPECT("dcerpc.stub_data; content:\"abc\"; content:\"def\"; distance:1;", 0);
    EXPECT("dcerpc.stub_data; content:\"abc\"; content:\"xyz\"; within:2;", 0);
    EXPECT("dcerpc.stub_data; content:\"abc\"; content:\"abc\"; distance:-3; within:3;", 1);
    /* a first content's within counts from the buffer's start */
    EXPECT("dcerpc.stub_data; content:\"xyz\"; within:12;", 1);
    EXPECT("dcerpc.stub_data; content:\"xyz\"; within:11;", 0);
    EXPECT("dcerpc.stub_data; content:!\"qqq\";", 1);
    EXPECT("dcerpc.stub_data; content:!\"abc\";", 0);
    /* a relative negation that fails sends the match back to the previous content's next
     * occurrence (Suricata discontinues only after a negation that stands alone): the
     * second "abc" is followed by "xyz" */
    EXPECT("dcerpc.stub_data; content:\"abc\"; content:!\"def\"; distance:0; within:3;", 1);
    EXPECT("dcerpc.stub_data; content:\"abc\"; content:!\"xyz\"; distance:0; within:3;", 1);
    EXPECT("dcerpc.stub_data; content:\"cx\"; content:!\"yz\"; distance:0; within:2;", 0);
    EXPECT("dcerpc.stub_data; content:\"xyz\"; endswith;", 1);
    EXPECT("dcerpc.stub_data; content:\"abc\"; endswith;", 0);
    EXPECT("dcerpc.stub_data; content:\"abc\"; startswith;", 1);
    EXPECT("dcerpc.stub_data; content:\"def\"; startswith;", 0);
    EXPECT("dcerpc.stub_data; content:\"|61 62|c\";", 1);
    /* pcre: R anchors ^ at the previous match's end */
    EXPECT("dcerpc.stub_data; pcre:\"/^abc/\";", 1);
    EXPECT("dcerpc.stub_data; pcre:\"/^def/\";", 0);
    EXPECT("dcerpc.stub_data; content:\"abc\"; pcre:\"/^def/R\";", 1);
    EXPECT("dcerpc.stub_data; content:\"def\"; pcre:\"/^xyz/R\";", 0);
    EXPECT("dcerpc.stub_data; content:\"def\"; pcre:\"/^abc/R\"; content:\"xyz\"; distance:0;", 1);
    EXPECT("dcerpc.stub_data; pcre:!\"/q+/\";", 1);
    /* bsize */
    EXPECT("dcerpc.stub_data; bsize:12;", 1);
    EXPECT("dcerpc.stub_data; bsize:11;", 0);
    EXPECT("dcerpc.stub_data; bsize:<13;", 1);
    EXPECT("dcerpc.stub_data; bsize:>12;", 0);
    EXPECT("dcerpc.stub_data; bsize:>=12;", 1);
    EXPECT("dcerpc.stub_data; bsize:11<>13;", 1);
    EXPECT("dcerpc.stub_data; bsize:12<>14;", 0);
}

TEST(byte_test_and_jump_read_as_suricata_does)
{
    /* after "\\1": 00 37 (55 big-endian, 14080 little), then a length 02 00 and "zz" */
    static const uint8_t stub[] = {'\\', 0, '\\', 0, '1', 0x00, 0x37, 0x02, 0x00, 'z', 'z', 'q'};
    struct rpc_call c;
    make_call(&c, stub, sizeof stub, true);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_test:2,=,55,0,relative;", 1);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_test:2,=,14080,0,relative,little;",
           1);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_test:2,=,14080,0,relative,dce;",
           1);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_test:2,>,55,0,relative;", 0);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_test:2,!=,55,0,relative;", 0);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_test:1,&,0x30,1,relative;", 1);
    EXPECT("dcerpc.stub_data; byte_test:2,=,0x5c00,0;", 1);
    /* jump over the 2-byte little-endian length 2 that starts 2 bytes after the match */
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_jump:2,2,relative,little; "
           "content:\"q\"; within:1;",
           1);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_jump:2,2,relative,little; "
           "content:\"z\"; within:1;",
           0);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_jump:2,0,relative;", 0);
    /* dce follows the call's byte order: a big-endian call reads 00 37 as 55 */
    make_call(&c, stub, sizeof stub, false);
    EXPECT("dcerpc.stub_data; content:\"|5c 00 5c 00 31|\"; byte_test:2,=,55,0,relative,dce;", 1);
}

TEST(dcerpc_keywords_follow_the_bound_context)
{
    static const uint8_t stub[] = {1, 2, 3, 4};
    struct rpc_call c;
    make_call(&c, stub, sizeof stub, true);
    EXPECT("dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003;", 1);
    EXPECT("dcerpc.iface:367ABB81-9844-35F1-AD32-98F038001003;", 1);
    EXPECT("dcerpc.iface:86d35949-83c9-4044-b424-db363231fd0c;", 0);
    EXPECT("dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003,=2;", 1);
    EXPECT("dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003,>1;", 1);
    EXPECT("dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003,<2;", 0);
    EXPECT("dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003,!2;", 0);
    EXPECT("dcerpc.opnum:12;", 1);
    EXPECT("dcerpc.opnum:1-11,13;", 0);
    EXPECT("dcerpc.opnum:10-15;", 1);
    EXPECT("dcerpc.opnum:>11;", 1);
    EXPECT("dcerpc.opnum:<=11;", 0);
    EXPECT("rpc.transport:ncacn_ip_tcp;", 1);
    EXPECT("rpc.transport:ncacn_np;", 0);
    EXPECT("rpc.sealed:false;", 1);
    EXPECT("rpc.sealed;", 0);
    EXPECT("flow:to_client;", 0);
    EXPECT("flow:established,to_server;", 1);
    /* a rejected context, or one whose bind was not seen, is not the interface */
    c.ctx.ack_result = 2;
    EXPECT("dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003;", 0);
    c.ctx.ack_result = 0;
    c.flags |= RPC_F_CTX_UNKNOWN;
    EXPECT("dcerpc.iface:367abb81-9844-35f1-ad32-98f038001003;", 0);
    EXPECT("dcerpc.opnum:12;", 1);
}

static int header_matches(const char *header, const struct rpc_call *c)
{
    char text[512], err[256];
    snprintf(text, sizeof text, "alert dcerpc %s (sid:1;)", header);
    struct rule *r = rule_parse(text, "t.rules", 1, err, sizeof err);
    if (!r) {
        test_fail(__FILE__, __LINE__, "refused: %s: %s", header, err);
        return -1;
    }
    int hit = rule_match_call(r, c, false);
    rule_free(r);
    return hit;
}

TEST(headers_match_addresses_ports_and_direction)
{
    static const struct {
        const char *header;
        int want;
    } cases[] = {
        {"any any -> any 445", 1},
        {"any any -> any ![139,445]", 0},
        {"any any -> any [135,139,445,1024:]", 1},
        {"any any -> any 1024:", 0},
        {"any 445 -> any any", 0},
        {"any 445 <> any any", 1},
        {"10.0.0.0/24 any -> 10.0.0.2 any", 1},
        {"10.0.0.2 any -> 10.0.0.1 any", 0},
        {"[10.0.0.0/8,!10.0.0.1] any -> any any", 0},
        {"!10.0.0.5 any -> any any", 1},
        {"$HOME_NET any -> $HOME_NET any", 1},
        {"any any -> ::1 any", 0},
    };
    static const uint8_t stub[] = {0};
    struct rpc_call c;
    make_call(&c, stub, 1, true);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = header_matches(cases[i].header, &c);
        if (got != cases[i].want)
            test_fail(__FILE__, __LINE__, "%s: %s", cases[i].header,
                      got ? "matched" : "did not match");
    }
}

/* ---- rule files ---- */

static char reported[8][512];
static int n_reported;

static void collect(const char *msg)
{
    if (n_reported < 8)
        snprintf(reported[n_reported++], sizeof reported[0], "%s", msg);
}

TEST(rule_files_report_file_and_line_and_keep_the_good_rules)
{
    char path[] = "/tmp/rpcsentry-rules-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs("# comment\n"
          "\n"
          "alert dcerpc any any -> any any (sid:1;)\n"                 /* 3: good */
          "alert dcerpc any any -> any any (dcerpc.opnum:x; sid:2;)\n" /* 4: bad */
          "alert dcerpc any any -> any any (\\\n"                      /* 5-6: continued, good */
          "  dcerpc.opnum:3; sid:3;)\n"
          "alert dcerpc any any -> any any (sid:1;)\n" /* 7: duplicate of 3 */
          "alert dcerpc any any -> any any (sid:9;",   /* 8: unclosed, no newline */
          f);
    fclose(f);
    n_reported = 0;
    unsigned errors = 0;
    const char *files[] = {path};
    struct detect *d = detect_load(false, files, 1, collect, &errors);
    unlink(path);
    CHECK(d != NULL);
    CHECK_EQ(detect_rule_count(d), 2); /* lines 3 and 5: 7 repeats sid 1 at the same rev */
    CHECK_EQ(errors, 3);
    char want[600];
    snprintf(want, sizeof want, "%s:4: dcerpc.opnum: not a number", path);
    CHECK(n_reported > 0 && strstr(reported[0], want) == reported[0]);
    snprintf(want, sizeof want, "%s:8: expected: action proto", path);
    CHECK(n_reported > 1 && strstr(reported[1], want) == reported[1]);
    bool dup = false;
    for (int i = 0; i < n_reported; i++)
        dup |= strstr(reported[i], "duplicate sid 1") != NULL;
    CHECK(dup);
    detect_free(d);

    /* a missing file is an error too, and the engine still comes back */
    n_reported = 0;
    const char *missing[] = {"/nonexistent/x.rules"};
    d = detect_load(false, missing, 1, collect, &errors);
    CHECK(d != NULL);
    CHECK_EQ(errors, 1);
    CHECK(n_reported == 1 && strstr(reported[0], "/nonexistent/x.rules: ") == reported[0]);
    detect_free(d);
}
