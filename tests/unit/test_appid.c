/*
 * nDPI's part: a flow's state released the moment nDPI decides, the verdict
 * kept, and the hand-off of a flow nDPI recognised to the DCE/RPC engine.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "rpcsentry/appid.h"
#include "rpcsentry/build_config.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

#if RS_HAVE_NDPI
#include <ndpi/ndpi_protocol_ids.h>
#endif

static struct config cfg; /* the worker's: defaults, each test may change them */

static struct worker *appid_worker(void)
{
    static struct worker w;
    config_defaults(&cfg);
    memset(&w, 0, sizeof w);
    w.cfg = &cfg;
    return &w;
}

/* An IPv4/UDP DNS query for example.com from 10.0.0.1:5353 to 10.0.0.2:53. */
static size_t dns_packet(uint8_t *b)
{
    static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                0x00, 0x00, 7,    'e',  'x',  'a',  'm',  'p',  'l',  'e',
                                3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01};
    size_t udp = 8 + sizeof q, total = 20 + udp;
    memset(b, 0, total);
    b[0] = 0x45;
    b[2] = (uint8_t)(total >> 8), b[3] = (uint8_t)total;
    b[8] = 64, b[9] = 17;
    b[12] = 10, b[15] = 1, b[16] = 10, b[19] = 2;
    b[20] = 0x13, b[21] = 0xe9; /* 5097 */
    b[22] = 0, b[23] = 53;
    b[24] = (uint8_t)(udp >> 8), b[25] = (uint8_t)udp;
    memcpy(b + 28, q, sizeof q);
    return total;
}

/* A worker with nDPI's module open, or NULL (a failed check) */
static struct worker *ndpi_worker(void)
{
    struct worker *w = appid_worker();
    char err[256];
    w->appid = appid_open(err, sizeof err);
    CHECK(w->appid != NULL);
    return w->appid ? w : NULL;
}

/* p: the DNS query, built in b (128 bytes), as decode leaves it */
static void dns_in(struct packet *p, uint8_t *b)
{
    memset(p, 0, sizeof *p);
    p->l3 = b;
    p->l3_len = (uint32_t)dns_packet(b);
    p->payload = b + 28;
    p->payload_len = p->l3_len - 28;
    p->ts_us = 1700000000000000ULL;
}

TEST(appid_releases_state_once_decided)
{
    if (!appid_available())
        SKIP("built without nDPI");
    struct worker *w = ndpi_worker();
    if (!w)
        return;
    uint8_t b[128];
    struct packet p;
    dns_in(&p, b);
    cfg.log_flows = true; /* a flow record will carry the verdict */
    struct flow f;
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 17;
    appid_packet(w, &f, &p);
    CHECK_EQ(f.ndpi_state, APPID_DECIDED);
    CHECK(f.ndpi == NULL); /* freed at the verdict */
    CHECK_EQ(w->mem.total_used, 0);
    CHECK_STR(appid_app_proto(w, &f), "dns");
    CHECK_EQ(f.app_hint, 0); /* DNS is no engine's */
    char name[64];
    const char *cat = NULL;
    bool guessed = true;
    CHECK(appid_ndpi(w, &f, name, sizeof name, &cat, &guessed));
    CHECK_STR(name, "DNS");
    CHECK(!guessed);
    appid_close(w->appid);
    w->appid = NULL;
}

/*
 * Without flow records the verdict is read only by the probe of a TCP flow the
 * transport has not placed: a UDP flow, or a TCP flow it has ignored, is not
 * handed to nDPI at all (no state, no count); a TCP flow still probed is.
 */
TEST(appid_looks_only_where_a_verdict_is_read)
{
    if (!appid_available())
        SKIP("built without nDPI");
    struct worker *w = ndpi_worker();
    if (!w)
        return;
    CHECK(!w->cfg->log_flows); /* the default */
    uint8_t b[128];
    struct packet p;
    dns_in(&p, b);
    struct flow f;
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 17;
    appid_packet(w, &f, &p);
    CHECK_EQ(f.ndpi_state, APPID_UNASKED);
    CHECK(f.ndpi == NULL);
    CHECK_EQ(w->stats.appid_flows, 0);
    CHECK(appid_app_proto(w, &f) == NULL);

    /* HTTP on TCP: looked at while the transport probes, let go once it ignored the flow */
    static const char get[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    uint8_t t[40 + sizeof get - 1];
    memset(t, 0, 40);
    t[0] = 0x45, t[2] = 0, t[3] = sizeof t, t[8] = 64, t[9] = 6;
    t[12] = 10, t[15] = 1, t[16] = 10, t[19] = 2;
    t[20] = 0xc3, t[21] = 0x50, t[22] = 0, t[23] = 80;
    t[32] = 0x50, t[33] = 0x18;
    memcpy(t + 40, get, sizeof get - 1);
    memset(&p, 0, sizeof p);
    p.l3 = t;
    p.l3_len = sizeof t;
    p.payload = t + 40;
    p.payload_len = sizeof get - 1;
    p.ts_us = 1700000000000000ULL;
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 6;
    f.ref.key.port[0] = 50000, f.ref.key.port[1] = 80;
    f.app = FLOW_APP_UNKNOWN;
    appid_packet(w, &f, &p);
    CHECK_EQ(w->stats.appid_flows, 1);
    CHECK(f.ndpi_state == APPID_DECIDED || f.ndpi_state == APPID_DETECTING);
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 6;
    f.ref.key.port[0] = 50000, f.ref.key.port[1] = 80;
    f.app = FLOW_APP_IGNORED;
    appid_packet(w, &f, &p);
    CHECK_EQ(f.ndpi_state, APPID_UNASKED);
    CHECK_EQ(w->stats.appid_flows, 1);
    appid_flow_end(w, &f);
    CHECK_EQ(w->mem.total_used, 0);
    appid_close(w->appid);
    w->appid = NULL;
}

TEST(appid_gives_up_after_a_bounded_number_of_packets)
{
    if (!appid_available())
        SKIP("built without nDPI");
    struct worker *w = appid_worker();
    char err[256];
    w->appid = appid_open(err, sizeof err);
    if (!w->appid)
        return;
    /* TCP between two high ports carrying bytes nothing recognises */
    uint8_t b[80];
    memset(b, 0, sizeof b);
    b[0] = 0x45, b[3] = sizeof b, b[8] = 64, b[9] = 6;
    b[12] = 10, b[15] = 1, b[16] = 10, b[19] = 2;
    b[20] = 0xc3, b[21] = 0x51, b[22] = 0xc3, b[23] = 0x52;
    b[32] = 0x50, b[33] = 0x18;
    for (size_t i = 40; i < sizeof b; i++)
        b[i] = (uint8_t)(i * 37 + 11);
    struct packet p;
    memset(&p, 0, sizeof p);
    p.l3 = b;
    p.l3_len = sizeof b;
    p.payload = b + 40;
    p.payload_len = sizeof b - 40;
    struct flow f;
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 6;
    for (int i = 0; i < 100 && (f.ndpi_state == APPID_NONE || f.ndpi_state == APPID_DETECTING);
         i++) {
        p.ts_us += 1000;
        appid_packet(w, &f, &p);
    }
    CHECK(f.ndpi_state != APPID_DETECTING);
    CHECK(f.ndpi == NULL);
    CHECK(f.ndpi_pkts <= 24);
    CHECK_EQ(w->mem.total_used, 0);
    appid_close(w->appid);
    w->appid = NULL;
}

#if RS_HAVE_NDPI
/* what appid_packet writes in the record of a flow when nDPI says DCE/RPC */
static void say_dcerpc(struct worker *w, struct flow *f)
{
    w->appid_held = NULL, w->appid_held_flow = NULL;
    f->ndpi_state = APPID_DECIDED;
    f->ndpi_app = NDPI_PROTOCOL_DCERPC;
    f->app_hint = FLOW_APP_DCERPC;
}
#endif

TEST(appid_hands_a_recognised_flow_to_the_dce_engine)
{
#if RS_HAVE_NDPI
    struct worker *w = appid_worker();
    struct flow f;
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 6;
    f.ref.key.ipver = 4;
    f.ref.key.port[0] = 50000, f.ref.key.port[1] = 5000; /* nobody's port */
    f.ref.client = 0;
    f.flags_seen[0] = 0x02; /* its start was seen */
    /* what appid writes in the record when nDPI says DCE/RPC */
    f.ndpi_state = APPID_DECIDED;
    f.ndpi_app = NDPI_PROTOCOL_DCERPC;
    f.app_hint = FLOW_APP_DCERPC;
    static const uint8_t junk[] = "not a PDU header, but nDPI says DCE/RPC";
    transport_data(w, &f, 0, junk, sizeof junk);
    CHECK_EQ(f.app, FLOW_APP_DCERPC);
    CHECK_EQ(w->stats.appid_handoffs, 1);
    transport_end(w, &f);

    /* the same bytes without nDPI's word: not ours */
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 6;
    f.ref.key.port[0] = 50000, f.ref.key.port[1] = 5000;
    f.flags_seen[0] = 0x02;
    transport_data(w, &f, 0, junk, sizeof junk);
    CHECK_EQ(f.app, FLOW_APP_IGNORED);
    transport_end(w, &f);

    /* nDPI's word comes with the packet the flow stage held back (worker.h): the probe asks
       for it before it reads the hint */
    memset(&f, 0, sizeof f);
    f.ref.key.proto = 6;
    f.ref.key.port[0] = 50000, f.ref.key.port[1] = 5000;
    f.flags_seen[0] = 0x02;
    w->appid_held_flow = &f;
    w->appid_due = say_dcerpc;
    transport_data(w, &f, 0, junk, sizeof junk);
    CHECK(w->appid_held_flow == NULL);
    CHECK_EQ(f.app, FLOW_APP_DCERPC);
    CHECK_EQ(w->stats.appid_handoffs, 2);
    transport_end(w, &f);
    w->appid_due = NULL;
    transport_worker_free(w);
    CHECK_EQ(w->mem.total_used, 0);
#else
    SKIP("built without nDPI");
#endif
}
