/*
 * Endpoint-mapper towers floor by floor (any order, every transport, short
 * and lying floors, cuts at every byte) and the port table (learn, look up,
 * expire, give way when full).
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/worker.h"

struct tw {
    uint8_t b[512];
    size_t n;
    uint16_t floors;
};

static void floor_add(struct tw *t, const uint8_t *lhs, uint16_t ll, const uint8_t *rhs,
                      uint16_t rl)
{
    t->b[t->n++] = (uint8_t)ll;
    t->b[t->n++] = (uint8_t)(ll >> 8);
    memcpy(t->b + t->n, lhs, ll);
    t->n += ll;
    t->b[t->n++] = (uint8_t)rl;
    t->b[t->n++] = (uint8_t)(rl >> 8);
    memcpy(t->b + t->n, rhs, rl);
    t->n += rl;
    t->floors++;
    t->b[0] = (uint8_t)t->floors;
    t->b[1] = (uint8_t)(t->floors >> 8);
}

/* svcctl 2.0 (wire form of 367abb81-9844-35f1-ad32-98f038001003), little-endian */
static const uint8_t svcctl_lhs[19] = {0x0d, 0x81, 0xbb, 0x7a, 0x36, 0x44, 0x98, 0xf1, 0x35, 0xad,
                                       0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03, 0x02, 0x00};
static const uint8_t ndr_lhs[19] = {0x0d, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f,
                                    0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 0x02, 0x00};
static const uint8_t zero2[2] = {0, 0};

static void tower_start(struct tw *t)
{
    memset(t, 0, sizeof *t);
    t->n = 2;
}

/* interface, syntax, CO, then the given transport floors */
static void tower_head(struct tw *t)
{
    tower_start(t);
    floor_add(t, svcctl_lhs, 19, zero2, 2);
    floor_add(t, ndr_lhs, 19, zero2, 2);
    const uint8_t co = 0x0b;
    floor_add(t, &co, 1, zero2, 2);
}

TEST(epm_tower_tcp_ip)
{
    struct tw t;
    tower_head(&t);
    const uint8_t tcp = 0x07, ip = 0x09, port[2] = {0xc2, 0x08}, addr[4] = {10, 1, 2, 3};
    floor_add(&t, &tcp, 1, port, 2);
    floor_add(&t, &ip, 1, addr, 4);
    struct epm_tower e;
    CHECK(epm_tower_parse(t.b, t.n, &e));
    CHECK_EQ(e.n_floors, 5);
    CHECK(e.has_iface && e.has_syntax && e.has_port && e.has_ip);
    char u[UUID_STR_LEN];
    uuid_fmt(&e.iface, u);
    CHECK_STR(u, "367abb81-9844-35f1-ad32-98f038001003");
    CHECK_EQ(e.ver_major, 2);
    uuid_fmt(&e.syntax, u);
    CHECK_STR(u, "8a885d04-1ceb-11c9-9fe8-08002b104860");
    CHECK_EQ(e.port, 49672); /* big-endian on the wire */
    CHECK(memcmp(e.ip, addr, 4) == 0);
    CHECK_STR(epm_tower_protseq(&e), "ncacn_ip_tcp");

    /* every cut is refused or parsed without reading past it */
    for (size_t cut = 0; cut < t.n; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, t.b, cut);
        CHECK(!epm_tower_parse(copy, cut, &e));
        free(copy);
    }
}

TEST(epm_tower_floors_in_another_order_and_other_transports)
{
    struct tw t;
    tower_head(&t);
    const uint8_t ip = 0x09, tcp = 0x07, addr[4] = {0, 0, 0, 0}, port[2] = {0x00, 0x87};
    floor_add(&t, &ip, 1, addr, 4); /* IP before TCP */
    floor_add(&t, &tcp, 1, port, 2);
    struct epm_tower e;
    CHECK(epm_tower_parse(t.b, t.n, &e));
    CHECK_EQ(e.port, 135);
    CHECK(e.has_ip);

    /* named pipe and NetBIOS host */
    tower_head(&t);
    const uint8_t np = 0x0f, nb = 0x11;
    floor_add(&t, &np, 1, (const uint8_t *)"\\PIPE\\atsvc", 12);
    floor_add(&t, &nb, 1, (const uint8_t *)"\\\\HOST", 7);
    CHECK(epm_tower_parse(t.b, t.n, &e));
    CHECK_STR(epm_tower_protseq(&e), "ncacn_np");
    CHECK_STR(e.pipe, "\\PIPE\\atsvc");
    CHECK_STR(e.host, "\\\\HOST");
    CHECK(!e.has_port);

    /* an unknown floor and an extra one are counted, not fatal; UDP and HTTP ports */
    tower_head(&t);
    const uint8_t odd[3] = {0x42, 1, 2}, udp = 0x08, uport[2] = {0x01, 0x00};
    floor_add(&t, odd, 3, zero2, 2);
    floor_add(&t, &udp, 1, uport, 2);
    CHECK(epm_tower_parse(t.b, t.n, &e));
    CHECK_EQ(e.n_floors, 5);
    CHECK_STR(epm_tower_protseq(&e), "ncadg_ip_udp");
    CHECK_EQ(e.port, 256);

    /* connectionless RPC over TCP names no protocol sequence we follow */
    tower_start(&t);
    floor_add(&t, svcctl_lhs, 19, zero2, 2);
    const uint8_t cl = 0x0a, tcp2 = 0x07;
    floor_add(&t, &cl, 1, zero2, 2);
    floor_add(&t, &tcp2, 1, port, 2);
    CHECK(epm_tower_parse(t.b, t.n, &e));
    CHECK(epm_tower_protseq(&e) == NULL);
}

TEST(epm_tower_malformed)
{
    struct tw t;
    struct epm_tower e;
    /* more floors claimed than present */
    tower_head(&t);
    t.b[0] = 9;
    CHECK(!epm_tower_parse(t.b, t.n, &e));
    /* an empty left-hand side */
    tower_start(&t);
    floor_add(&t, svcctl_lhs, 0, zero2, 2);
    CHECK(!epm_tower_parse(t.b, t.n, &e));
    /* an identifier floor too short for a UUID */
    tower_start(&t);
    floor_add(&t, svcctl_lhs, 10, zero2, 2);
    CHECK(!epm_tower_parse(t.b, t.n, &e));
    /* a port floor with one byte */
    tower_head(&t);
    const uint8_t tcp = 0x07;
    floor_add(&t, &tcp, 1, zero2, 1);
    CHECK(!epm_tower_parse(t.b, t.n, &e));
    /* 65535 floors claimed in 2 bytes */
    uint8_t many[2] = {0xff, 0xff};
    CHECK(!epm_tower_parse(many, 2, &e));
    /* a pipe name with control characters and no terminator is kept printable */
    tower_head(&t);
    const uint8_t np = 0x0f, raw[4] = {'a', 0x01, 'b', 0x7f};
    floor_add(&t, &np, 1, raw, 4);
    CHECK(epm_tower_parse(t.b, t.n, &e));
    CHECK_STR(e.pipe, "a?b?");
}

static struct worker *table_worker(void)
{
    static struct worker w;
    static struct config cfg;
    config_defaults(&cfg);
    memset(&w, 0, sizeof w);
    w.cfg = &cfg;
    w.now_us = 1000000000000ULL;
    return &w;
}

TEST(epm_table_learns_expires_and_gives_way)
{
    struct worker *w = table_worker();
    uint8_t a[16] = {10, 0, 0, 1};
    struct uuid tsch, svc;
    uuid_parse("86d35949-83c9-4044-b424-db363231fd0c", &tsch);
    uuid_parse("367abb81-9844-35f1-ad32-98f038001003", &svc);
    struct epm_entry e;
    CHECK(!epm_lookup(w, a, 4, 49667, &e));
    epm_learn(w, a, 4, 49667, &tsch, 1, 0, 77);
    CHECK(epm_lookup(w, a, 4, 49667, &e) && uuid_eq(&e.iface, &tsch) && e.learned_flow_id == 77);
    CHECK(!epm_lookup(w, a, 4, 49668, &e));
    CHECK(!epm_lookup(w, a, 6, 49667, &e));
    /* a newer answer for the same port replaces the old one */
    epm_learn(w, a, 4, 49667, &svc, 2, 0, 78);
    CHECK(epm_lookup(w, a, 4, 49667, &e) && uuid_eq(&e.iface, &svc));
    /* past the time to live it is gone */
    w->now_us += (uint64_t)w->cfg->epm_ttl * 1000000 + 1;
    CHECK(!epm_lookup(w, a, 4, 49667, &e));
    /* more ports than slots: the table stays bounded and the newest answers are kept */
    for (unsigned i = 0; i < EPM_TABLE_SLOTS + 2000; i++) {
        uint8_t b[16] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        w->now_us++;
        epm_learn(w, b, 4, 50000, &tsch, 1, 0, i);
    }
    CHECK(w->stats.epm_evicted > 0);
    unsigned last = EPM_TABLE_SLOTS + 1999;
    uint8_t b[16] = {10, (uint8_t)(last >> 16), (uint8_t)(last >> 8), (uint8_t)last};
    CHECK(epm_lookup(w, b, 4, 50000, &e));
    epm_table_free(w);
    CHECK_EQ(w->mem.total_used, 0);
}
