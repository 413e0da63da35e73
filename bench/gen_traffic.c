/*
 * Large deterministic captures for the benchmark.
 *
 *   gen_traffic mixed SIZE OUT.pcap TEMPLATE.pcap...   mostly traffic the sensor does not decode
 *   gen_traffic rpc SIZE OUT.pcap TEMPLATE.pcap...     RPC sessions only
 *   gen_traffic flows N PACKETS OUT.pcap [TOTAL]       N connections open at once
 *
 * SIZE in bytes (k/M/G suffixes). TEMPLATE captures (Ethernet) hold RPC
 * sessions; each copy of a template flow gets its own addresses and ports
 * and is interleaved with thousands of others. The mixed kind adds bulk
 * HTTP-like and TLS-like transfers, DNS over UDP and many short
 * connections, with RPC sessions sprinkled in (about 2% of bytes). The
 * same arguments give the same bytes: one seeded generator, no clock.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- output ---- */

static FILE *out;
static uint64_t written, ts_us = 1700000000ULL * 1000000;

static void pcap_header(void)
{
    uint32_t h[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 262144, 1};
    fwrite(h, 4, 6, out);
}

static void emit(const uint8_t *frame, uint32_t len)
{
    ts_us += 3; /* a busy link: a packet every few microseconds */
    uint32_t rec[4] = {(uint32_t)(ts_us / 1000000), (uint32_t)(ts_us % 1000000), len, len};
    fwrite(rec, 4, 4, out);
    fwrite(frame, 1, len, out);
    written += 16 + len;
}

/* ---- a seeded generator (xorshift64*) ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static uint32_t rndn(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ---- frames ---- */

static uint16_t ip_csum(const uint8_t *h)
{
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

struct conn {
    uint32_t a, b; /* client, server IPv4 (host order) */
    uint16_t pa, pb;
    uint32_t seq[2];
};

/* Ethernet + IPv4 + TCP (checksum left 0, as offloaded traffic on a SPAN port often is). */
static void tcp_frame(struct conn *c, int from, uint8_t flags, const uint8_t *data, uint32_t n)
{
    static uint8_t f[65600];
    memset(f, 0, 54);
    memcpy(f, "\x00\x50\x56\x00\x00\x02\x00\x0c\x29\x00\x00\x01\x08\x00", 14);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    uint16_t tot = (uint16_t)(40 + n);
    ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
    ip[8] = 64, ip[9] = 6;
    uint32_t s = htonl(from ? c->b : c->a), d = htonl(from ? c->a : c->b);
    memcpy(ip + 12, &s, 4);
    memcpy(ip + 16, &d, 4);
    uint16_t cs = ip_csum(ip);
    ip[10] = (uint8_t)(cs >> 8), ip[11] = (uint8_t)cs;
    uint8_t *t = ip + 20;
    uint16_t sp = from ? c->pb : c->pa, dp = from ? c->pa : c->pb;
    t[0] = (uint8_t)(sp >> 8), t[1] = (uint8_t)sp, t[2] = (uint8_t)(dp >> 8), t[3] = (uint8_t)dp;
    uint32_t sq = htonl(c->seq[from]), ak = htonl(c->seq[1 - from]);
    memcpy(t + 4, &sq, 4);
    memcpy(t + 8, &ak, 4);
    t[12] = 0x50, t[13] = flags;
    t[14] = 0xff, t[15] = 0xff;
    if (n)
        memcpy(t + 20, data, n);
    emit(f, 54 + n);
    c->seq[from] += n + ((flags & 0x03) ? 1 : 0);
}

static void udp_frame(uint32_t a, uint32_t b, uint16_t pa, uint16_t pb, const uint8_t *d,
                      uint32_t n)
{
    static uint8_t f[2048];
    memset(f, 0, 42);
    memcpy(f, "\x00\x50\x56\x00\x00\x02\x00\x0c\x29\x00\x00\x01\x08\x00", 14);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    uint16_t tot = (uint16_t)(28 + n);
    ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
    ip[8] = 64, ip[9] = 17;
    uint32_t s = htonl(a), dd = htonl(b);
    memcpy(ip + 12, &s, 4);
    memcpy(ip + 16, &dd, 4);
    uint16_t cs = ip_csum(ip);
    ip[10] = (uint8_t)(cs >> 8), ip[11] = (uint8_t)cs;
    uint8_t *u = ip + 20;
    u[0] = (uint8_t)(pa >> 8), u[1] = (uint8_t)pa, u[2] = (uint8_t)(pb >> 8), u[3] = (uint8_t)pb;
    uint16_t ul = (uint16_t)(8 + n);
    u[4] = (uint8_t)(ul >> 8), u[5] = (uint8_t)ul;
    memcpy(u + 8, d, n);
    emit(f, 42 + n);
}

/* ---- templates: RPC sessions replayed with new addresses ---- */

struct tpkt {
    uint8_t *data;
    uint32_t len;
    int flow;
};
static struct tpkt *tp;
static size_t ntp;
struct tflow {
    uint32_t a, b;
    uint16_t pa, pb;
    size_t first, count; /* its packets, in order, by index into order[] */
};
static struct tflow *tf;
static size_t ntf;
static size_t *order; /* template packets grouped by flow */

static void load_template(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    uint32_t gh[6];
    if (fread(gh, 4, 6, f) != 6 || gh[0] != 0xa1b2c3d4 || gh[5] != 1) {
        fprintf(stderr, "gen_traffic: %s: not a little-endian Ethernet pcap, skipped\n", path);
        fclose(f);
        return;
    }
    uint32_t rh[4];
    while (fread(rh, 4, 4, f) == 4) {
        uint8_t *d = malloc(rh[2]);
        if (!d || fread(d, 1, rh[2], f) != rh[2]) {
            free(d);
            break;
        }
        /* IPv4 TCP only, untagged: the rest of a template is left out */
        if (rh[2] < 54 || d[12] != 0x08 || d[13] != 0x00 || d[23] != 6) {
            free(d);
            continue;
        }
        tp = realloc(tp, (ntp + 1) * sizeof *tp);
        tp[ntp++] = (struct tpkt){d, rh[2], -1};
    }
    fclose(f);
}

static void index_flows(void)
{
    for (size_t i = 0; i < ntp; i++) {
        uint8_t *ip = tp[i].data + 14;
        uint32_t s, d;
        memcpy(&s, ip + 12, 4);
        memcpy(&d, ip + 16, 4);
        s = ntohl(s), d = ntohl(d);
        uint8_t *t = ip + (ip[0] & 15) * 4;
        uint16_t sp = (uint16_t)(t[0] << 8 | t[1]), dp = (uint16_t)(t[2] << 8 | t[3]);
        size_t k;
        for (k = 0; k < ntf; k++)
            if ((tf[k].a == s && tf[k].pa == sp && tf[k].b == d && tf[k].pb == dp) ||
                (tf[k].a == d && tf[k].pa == dp && tf[k].b == s && tf[k].pb == sp))
                break;
        if (k == ntf) {
            tf = realloc(tf, (ntf + 1) * sizeof *tf);
            tf[ntf++] = (struct tflow){s, d, sp, dp, 0, 0};
        }
        tp[i].flow = (int)k;
        tf[k].count++;
    }
    order = malloc(ntp * sizeof *order);
    size_t at = 0;
    for (size_t k = 0; k < ntf; k++) {
        tf[k].first = at;
        for (size_t i = 0; i < ntp; i++)
            if (tp[i].flow == (int)k)
                order[at++] = i;
    }
}

/* One copy of a template flow being replayed. */
struct replay {
    size_t flow, next;
    uint32_t a, b; /* new client and server addresses */
    uint16_t pa, pb;
};

static uint32_t copies;

static void start_replay(struct replay *r)
{
    r->flow = rndn((uint32_t)ntf);
    r->next = 0;
    copies++;
    r->a = 0x0a000000u | (copies & 0xffff) << 8 | (1 + rndn(250)); /* 10.x.y.z clients */
    r->b = 0x0ac80000u | rndn(4096);                               /* 10.200.0.0/20 servers */
    r->pa = (uint16_t)(20000 + copies % 40000);
    const struct tflow *t = &tf[r->flow];
    /* the server keeps its well-known port (135, 445, a dynamic one): it names what it is */
    r->pb = t->pb;
}

/* The next packet of a replay, with its addresses and ports rewritten; false when done. */
static bool step_replay(struct replay *r)
{
    const struct tflow *t = &tf[r->flow];
    if (r->next >= t->count)
        return false;
    const struct tpkt *p = &tp[order[t->first + r->next++]];
    static uint8_t f[262144];
    memcpy(f, p->data, p->len);
    uint8_t *ip = f + 14;
    uint32_t s;
    memcpy(&s, ip + 12, 4);
    bool from_client = ntohl(s) == t->a;
    uint32_t ns = htonl(from_client ? r->a : r->b), nd = htonl(from_client ? r->b : r->a);
    memcpy(ip + 12, &ns, 4);
    memcpy(ip + 16, &nd, 4);
    ip[10] = ip[11] = 0;
    uint16_t cs = ip_csum(ip);
    ip[10] = (uint8_t)(cs >> 8), ip[11] = (uint8_t)cs;
    uint8_t *tcp = ip + (ip[0] & 15) * 4;
    uint16_t sp = from_client ? r->pa : r->pb, dp = from_client ? r->pb : r->pa;
    tcp[0] = (uint8_t)(sp >> 8), tcp[1] = (uint8_t)sp, tcp[2] = (uint8_t)(dp >> 8);
    tcp[3] = (uint8_t)dp;
    tcp[16] = tcp[17] = 0; /* its checksum no longer holds: offloaded, as above */
    emit(f, p->len);
    return true;
}

/* ---- background: bulk transfers, DNS, short connections ---- */

struct bulk {
    struct conn c;
    uint32_t left; /* bytes still to send from the server */
    uint8_t kind;  /* 0 HTTP-like, 1 TLS-like, 2 short connection */
    uint8_t phase;
};

static uint32_t bulk_copies;

static void start_bulk(struct bulk *b)
{
    memset(b, 0, sizeof *b);
    bulk_copies++;
    b->c.a = 0xc0a80000u | rndn(65536); /* 192.168.0.0/16 clients */
    b->c.b = 0x5db80000u | rndn(65536); /* servers out there */
    b->c.pa = (uint16_t)(1024 + rndn(60000));
    uint32_t r = rndn(100);
    b->kind = r < 45 ? 0 : r < 90 ? 1 : 2;
    b->c.pb = b->kind == 0 ? 80 : b->kind == 1 ? 443 : (uint16_t)(1024 + rndn(30000));
    b->c.seq[0] = (uint32_t)rnd(), b->c.seq[1] = (uint32_t)rnd();
    b->left = b->kind == 2 ? 200 : 20000 + rndn(2000000);
}

/* A TLS 1.2 ClientHello as browsers send it, with an SNI: what nDPI needs to say "TLS". */
static uint32_t client_hello(uint8_t *o)
{
    static const char host[] = "www.example.com";
    uint8_t body[400];
    uint32_t n = 0;
    body[n++] = 0x03, body[n++] = 0x03; /* client version TLS 1.2 */
    for (int i = 0; i < 32; i++)
        body[n++] = (uint8_t)(i * 7 + 1); /* random */
    body[n++] = 0;                        /* session id */
    static const uint8_t suites[] = {0x13, 0x01, 0x13, 0x02, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c,
                                     0xc0, 0x30, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35};
    body[n++] = 0, body[n++] = sizeof suites;
    memcpy(body + n, suites, sizeof suites);
    n += sizeof suites;
    body[n++] = 1, body[n++] = 0; /* compression: null */
    uint32_t ext_len_at = n;
    n += 2;
    uint32_t hl = sizeof host - 1;
    /* server_name */
    body[n++] = 0, body[n++] = 0;
    body[n++] = 0, body[n++] = (uint8_t)(hl + 5);
    body[n++] = 0, body[n++] = (uint8_t)(hl + 3);
    body[n++] = 0;
    body[n++] = 0, body[n++] = (uint8_t)hl;
    memcpy(body + n, host, hl);
    n += hl;
    /* supported_groups, ec_point_formats, signature_algorithms */
    static const uint8_t more[] = {0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17,
                                   0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, 0x00, 0x0d, 0x00, 0x08,
                                   0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01};
    memcpy(body + n, more, sizeof more);
    n += sizeof more;
    uint32_t ext = n - ext_len_at - 2;
    body[ext_len_at] = (uint8_t)(ext >> 8), body[ext_len_at + 1] = (uint8_t)ext;
    /* record header and handshake header around it */
    o[0] = 0x16, o[1] = 0x03, o[2] = 0x01;
    o[3] = (uint8_t)((n + 4) >> 8), o[4] = (uint8_t)(n + 4);
    o[5] = 0x01, o[6] = 0, o[7] = (uint8_t)(n >> 8), o[8] = (uint8_t)n;
    memcpy(o + 9, body, n);
    return 9 + n;
}

static void step_bulk(struct bulk *b)
{
    static uint8_t payload[1448];
    static bool init;
    if (!init) {
        for (size_t i = 0; i < sizeof payload; i++)
            payload[i] = (uint8_t)rnd();
        init = true;
    }
    struct conn *c = &b->c;
    switch (b->phase) {
    case 0:
        tcp_frame(c, 0, 0x02, NULL, 0);
        b->phase++;
        return; /* SYN */
    case 1:
        tcp_frame(c, 1, 0x12, NULL, 0);
        b->phase++;
        return; /* SYN-ACK */
    case 2:
        tcp_frame(c, 0, 0x10, NULL, 0);
        b->phase++;
        return; /* ACK */
    case 3: {
        static const char get[] = "GET /static/app.js HTTP/1.1\r\nHost: www.example.com\r\n"
                                  "User-Agent: bench\r\nAccept: */*\r\n\r\n";
        static uint8_t hello[512];
        static uint32_t hello_len;
        if (!hello_len)
            hello_len = client_hello(hello);
        if (b->kind == 1)
            tcp_frame(c, 0, 0x18, hello, hello_len);
        else
            tcp_frame(c, 0, 0x18, (const uint8_t *)get, sizeof get - 1);
        b->phase++;
        return;
    }
    case 4: {
        uint32_t n = b->left < sizeof payload ? b->left : (uint32_t)sizeof payload;
        if (b->kind == 1) { /* a TLS application-data record header now and then */
            payload[0] = 0x17, payload[1] = 0x03, payload[2] = 0x03;
        } else if (b->kind == 0 && b->left > 2000000) {
            memcpy(payload, "HTTP/1.1 200 OK\r\n", 17);
        }
        tcp_frame(c, 1, 0x10, payload, n);
        b->left -= n;
        if ((c->seq[1] / 1448) % 2 == 0)
            tcp_frame(c, 0, 0x10, NULL, 0); /* the client's ACK, every other segment */
        if (b->left == 0)
            b->phase++;
        return;
    }
    case 5:
        tcp_frame(c, 0, 0x11, NULL, 0);
        b->phase++;
        return; /* FIN */
    case 6:
        tcp_frame(c, 1, 0x11, NULL, 0);
        b->phase++;
        return;
    default:
        tcp_frame(c, 0, 0x10, NULL, 0);
        b->phase = 255;
        return;
    }
}

static void dns_pair(void)
{
    uint8_t q[64] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0,   0,   0,   0,   0,
                     0,    3,    'w',  'w',  'w',  7,    'e', 'x', 'a', 'm', 'p',
                     'l',  'e',  3,    'c',  'o',  'm',  0,   0,   1,   0,   1};
    uint32_t a = 0xc0a80000u | rndn(65536), dns = 0x0a000035;
    uint16_t pa = (uint16_t)(1024 + rndn(60000));
    q[0] = (uint8_t)rnd(), q[1] = (uint8_t)rnd();
    udp_frame(a, dns, pa, 53, q, 33);
    uint8_t r[64];
    memcpy(r, q, 33);
    r[2] = 0x81, r[3] = 0x80, r[7] = 1;
    static const uint8_t ans[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34};
    memcpy(r + 33, ans, sizeof ans);
    udp_frame(dns, a, 53, pa, r, 33 + sizeof ans);
}

/* ---- main ---- */

static uint64_t parse_size(const char *s)
{
    char *e;
    uint64_t v = strtoull(s, &e, 10);
    if (*e == 'k' || *e == 'K')
        v <<= 10;
    else if (*e == 'M' || *e == 'm')
        v <<= 20;
    else if (*e == 'G' || *e == 'g')
        v <<= 30;
    return v;
}

/*
 * N TCP connections to port 8080 (traffic the sensor follows but does not decode), all
 * open at once: their handshakes first, then PACKETS data segments, each on a connection
 * picked at random, so that every packet looks one of N flows up. With TOTAL, TOTAL / N
 * such generations one after the other (PACKETS shared among them), each closed (RST)
 * 11 s before the next, so that the closed ones leave the table (one generation is closed
 * so too, at its end): the packets and the work
 * per connection of one generation of TOTAL, with N open at a time. Times per packet of
 * 10,000 at a time and 1,000,000 at once tell what the flow table's size costs.
 */
static int concurrent_flows(uint32_t n, uint64_t packets, uint64_t total, const char *path)
{
    out = fopen(path, "wb");
    if (!out) {
        perror(path);
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    pcap_header();
    struct conn *c = calloc(n, sizeof *c);
    if (!c)
        return 1;
    uint64_t gens = total > n ? total / n : 1;
    static const uint8_t data[64] = "GET /status HTTP/1.1\r\nHost: lab\r\n\r\n";
    for (uint64_t g = 0; g < gens; g++) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = (uint32_t)(g * n + k); /* each connection of the run its own */
            c[k].a = 0x0a000000u | (i >> 6);    /* 10.x.y.z, 64 ports each */
            c[k].b = 0xac100000u | (i & 0xff);  /* 172.16.0.x */
            c[k].pa = (uint16_t)(20000 + (i & 63) * 512 + ((i >> 8) & 511));
            c[k].pb = 8080;
            c[k].seq[0] = (uint32_t)rnd(), c[k].seq[1] = (uint32_t)rnd();
            tcp_frame(&c[k], 0, 0x02, NULL, 0); /* SYN */
        }
        for (uint32_t k = 0; k < n; k++)
            tcp_frame(&c[k], 1, 0x12, NULL, 0); /* SYN-ACK */
        for (uint64_t k = 0; k < packets / gens; k++) {
            struct conn *x = &c[rndn(n)];
            int from = (int)(rnd() & 1);
            tcp_frame(x, from, 0x18, data, sizeof data);
        }
        /* every generation ends with its resets, the last one too: both inputs then carry
           the same packets, and their times per packet compare */
        for (uint32_t k = 0; k < n; k++)
            tcp_frame(&c[k], 0, 0x04, NULL, 0); /* RST */
        ts_us += 11000000;                      /* past the closed flows' 10 s */
    }
    fclose(out);
    free(c);
    fprintf(stderr, "gen_traffic: %s, %llu bytes, %u connections open at once, %llu in all\n", path,
            (unsigned long long)written, n, (unsigned long long)(gens * n));
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "flows") == 0)
        return concurrent_flows((uint32_t)parse_size(argv[2]), parse_size(argv[3]),
                                argc == 6 ? parse_size(argv[5]) : 0, argv[4]);
    if (argc < 5 ||
        (strcmp(argv[1], "mixed") && strcmp(argv[1], "rpc") && strcmp(argv[1], "dense"))) {
        fprintf(stderr, "usage: gen_traffic mixed|rpc|dense SIZE OUT.pcap TEMPLATE.pcap...\n"
                        "       gen_traffic flows N PACKETS OUT.pcap [TOTAL]\n");
        return 2;
    }
    bool mixed = strcmp(argv[1], "mixed") == 0;
    uint64_t size = parse_size(argv[2]);
    for (int i = 4; i < argc; i++)
        load_template(argv[i]);
    if (!ntp) {
        fprintf(stderr, "gen_traffic: no usable template packets\n");
        return 1;
    }
    index_flows();
    out = fopen(argv[3], "wb");
    if (!out) {
        perror(argv[3]);
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    pcap_header();
    /* dense: ten times the sessions open at once, so that every packet meets a cold flow */
    enum { MAX_REPLAYS = 20000, BULKS = 3000 };
    const uint32_t replays = strcmp(argv[1], "dense") == 0 ? 20000 : 2000;
    static struct replay rp[MAX_REPLAYS];
    static struct bulk bk[BULKS];
    for (uint32_t i = 0; i < replays; i++)
        start_replay(&rp[i]);
    for (int i = 0; i < BULKS; i++)
        start_bulk(&bk[i]);
    uint64_t rpc_bytes = 0;
    while (written < size) {
        /* the mixed kind: RPC at about 2% of the bytes, DNS now and then, bulk the rest */
        bool rpc = !mixed || rpc_bytes * 50 < written;
        if (rpc) {
            uint64_t before = written;
            struct replay *r = &rp[rndn(replays)];
            if (!step_replay(r))
                start_replay(r);
            rpc_bytes += written - before;
        } else if (rndn(100) < 3) {
            dns_pair();
        } else {
            struct bulk *b = &bk[rndn(BULKS)];
            if (b->phase == 255)
                start_bulk(b);
            step_bulk(b);
        }
    }
    fclose(out);
    fprintf(stderr,
            "gen_traffic: %s, %llu bytes, %u RPC session copies (%llu bytes), "
            "%u other connections\n",
            argv[3], (unsigned long long)written, copies, (unsigned long long)rpc_bytes,
            bulk_copies);
    return 0;
}
