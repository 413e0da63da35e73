/*
 * The engines on hand-made bytes, no capture and no flow record: decode's
 * layers (Ethernet with two VLAN tags, IPv6 with an extension header, a
 * fragment, a cut header, a frame captured before segmentation offload, Linux
 * cooked v2) and the DCE/RPC header check (both byte orders, a bad version,
 * a length shorter than the header, too few bytes to tell).
 */
#include <string.h>

#include "harness.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/decode.h"

/* Appends n bytes to a frame under construction. */
struct frame {
    uint8_t b[512];
    size_t n;
};
static void put(struct frame *f, const void *p, size_t n)
{
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void put8(struct frame *f, uint8_t v)
{
    put(f, &v, 1);
}
static void put16(struct frame *f, uint16_t v) /* network order */
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(f, b, 2);
}
static void put32(struct frame *f, uint32_t v)
{
    put16(f, (uint16_t)(v >> 16));
    put16(f, (uint16_t)v);
}

static void ethernet(struct frame *f, uint16_t type)
{
    static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    put(f, macs, sizeof macs);
    put16(f, type);
}

/* An IPv4 header of total length total (0: as offload leaves it), fragment field frag. */
static void ipv4(struct frame *f, uint16_t total, uint16_t frag, uint8_t proto)
{
    put8(f, 0x45);
    put8(f, 0);
    put16(f, total);
    put16(f, 0x1234);
    put16(f, frag);
    put8(f, 64);
    put8(f, proto);
    put16(f, 0);          /* checksum: not judged here */
    put32(f, 0x0a000001); /* 10.0.0.1 */
    put32(f, 0x0a000002); /* 10.0.0.2 */
}

static void tcp(struct frame *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                uint8_t flags)
{
    put16(f, sport);
    put16(f, dport);
    put32(f, seq);
    put32(f, ack);
    put8(f, 5 << 4);
    put8(f, flags);
    put16(f, 65535);
    put16(f, 0);
    put16(f, 0);
}

static struct packet packet_of(const struct frame *f, int link)
{
    struct packet p;
    memset(&p, 0, sizeof p);
    p.data = f->b;
    p.caplen = p.wirelen = (uint32_t)f->n;
    p.linktype = link;
    return p;
}

TEST(decode_ethernet_two_vlans_ipv4_tcp)
{
    struct frame f = {.n = 0};
    ethernet(&f, 0x88a8);
    put16(&f, 100); /* outer tag: 0x88a8, VLAN 100 */
    put16(&f, 0x8100);
    put16(&f, 200); /* inner tag: VLAN 200 */
    put16(&f, 0x0800);
    ipv4(&f, 20 + 20 + 5, 0x4000, 6);
    tcp(&f, 50000, 135, 1000, 2000, 0x18);
    put(&f, "hello", 5);
    struct packet p = packet_of(&f, LINK_ETHERNET);
    CHECK_EQ(decode_layers(&p), DECODE_OK);
    CHECK_EQ(p.vlan_cnt, 2);
    CHECK_EQ(p.vlan[0], 100);
    CHECK_EQ(p.vlan[1], 200);
    CHECK_EQ(p.ipver, 4);
    CHECK_EQ(p.proto, 6);
    CHECK_EQ(p.src[0], 10);
    CHECK_EQ(p.dst[3], 2);
    CHECK_EQ(p.sport, 50000);
    CHECK_EQ(p.dport, 135);
    CHECK_EQ(p.seq, 1000);
    CHECK_EQ(p.ack, 2000);
    CHECK_EQ(p.tcp_flags, 0x18);
    CHECK_EQ(p.payload_len, 5);
    CHECK(p.payload && memcmp(p.payload, "hello", 5) == 0);
    CHECK(!p.ip_len_fixed);
}

/* A SYN's options: the window scale found after MSS and NOPs, a shift over 14 taken as 14
   (RFC 7323), none on a SYN without it, options cut short read no further. */
TEST(decode_syn_window_scale_option)
{
    static const struct {
        uint8_t opts[12];
        uint8_t want;
    } cases[] = {
        {{2, 4, 0x05, 0xb4, 1, 3, 3, 8, 4, 2, 0, 0}, 9},  /* MSS, NOP, WS 8, SACK ok */
        {{3, 3, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 15},      /* 15: taken as 14 */
        {{2, 4, 0x05, 0xb4, 4, 2, 1, 1, 0, 3, 3, 7}, 0},  /* after the end of options */
        {{2, 4, 0x05, 0xb4, 8, 10, 0, 0, 0, 0, 0, 0}, 0}, /* a timestamp cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct frame f = {.n = 0};
        ethernet(&f, 0x0800);
        ipv4(&f, 20 + 32, 0x4000, 6);
        put16(&f, 50000);
        put16(&f, 135);
        put32(&f, 1000);
        put32(&f, 0);
        put8(&f, 8 << 4);
        put8(&f, 0x02);
        put16(&f, 64240);
        put16(&f, 0);
        put16(&f, 0);
        put(&f, cases[i].opts, 12);
        struct packet p = packet_of(&f, LINK_ETHERNET);
        CHECK_EQ(decode_layers(&p), DECODE_OK);
        CHECK_EQ(p.tcp_wscale, cases[i].want);
        CHECK_EQ(p.tcp_window, 64240);
        CHECK_EQ(p.payload_len, 0);
    }
}

TEST(decode_ipv6_with_a_hop_by_hop_header)
{
    struct frame f = {.n = 0};
    ethernet(&f, 0x86dd);
    put32(&f, 0x60000000);
    put16(&f, 8 + 20 + 3); /* payload length: the extension header, TCP, 3 bytes */
    put8(&f, 0);           /* next: hop-by-hop */
    put8(&f, 64);
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    put(&f, a, 16);
    put(&f, b, 16);
    put8(&f, 6); /* hop-by-hop: next TCP, length 0 (8 bytes), PadN */
    put8(&f, 0);
    put8(&f, 1);
    put8(&f, 4);
    put32(&f, 0);
    tcp(&f, 49152, 445, 7, 0, 0x02);
    put(&f, "abc", 3);
    struct packet p = packet_of(&f, LINK_ETHERNET);
    CHECK_EQ(decode_layers(&p), DECODE_OK);
    CHECK_EQ(p.ipver, 6);
    CHECK_EQ(p.proto, 6);
    CHECK_EQ(p.src[15], 1);
    CHECK_EQ(p.dst[15], 2);
    CHECK_EQ(p.sport, 49152);
    CHECK_EQ(p.dport, 445);
    CHECK_EQ(p.payload_len, 3);
}

TEST(decode_fragment_cut_header_and_offload)
{
    struct frame f = {.n = 0};
    ethernet(&f, 0x0800);
    ipv4(&f, 20 + 20, 0x2000, 6); /* more fragments */
    tcp(&f, 1, 2, 0, 0, 0x10);
    struct packet p = packet_of(&f, LINK_ETHERNET);
    CHECK_EQ(decode_layers(&p), DECODE_FRAGMENT);

    struct frame g = {.n = 0};
    ethernet(&g, 0x0800);
    ipv4(&g, 20 + 20, 0, 6);
    tcp(&g, 1, 2, 0, 0, 0x10);
    struct packet q = packet_of(&g, LINK_ETHERNET);
    q.caplen = 14 + 20 + 10; /* the snap length cut the TCP header */
    CHECK_EQ(decode_layers(&q), DECODE_TRUNCATED);

    /* captured before segmentation offload: IPv4 length 0, the frame's bytes are used */
    struct frame h = {.n = 0};
    ethernet(&h, 0x0800);
    ipv4(&h, 0, 0x4000, 6);
    tcp(&h, 50000, 445, 1, 1, 0x18);
    put(&h, "0123456789", 10);
    struct packet r = packet_of(&h, LINK_ETHERNET);
    CHECK_EQ(decode_layers(&r), DECODE_OK);
    CHECK(r.ip_len_fixed);
    CHECK_EQ(r.payload_len, 10);
}

TEST(decode_linux_cooked_v2)
{
    struct frame f = {.n = 0};
    put16(&f, 0x0800); /* SLL2: protocol, reserved, ifindex, hatype, pkttype, addr len, addr */
    put16(&f, 0);
    put32(&f, 3);
    put16(&f, 1);
    put8(&f, 0);
    put8(&f, 6);
    static const uint8_t addr[8] = {1, 2, 3, 4, 5, 6, 0, 0};
    put(&f, addr, 8);
    ipv4(&f, 20 + 20, 0, 6);
    tcp(&f, 1025, 135, 5, 6, 0x02);
    struct packet p = packet_of(&f, LINK_SLL2);
    CHECK_EQ(decode_layers(&p), DECODE_OK);
    CHECK_EQ(p.sport, 1025);
    CHECK_EQ(p.dport, 135);
    CHECK_EQ(p.payload_len, 0);
}

TEST(dce_header_check)
{
    /* a bind, little-endian: version 5.0, PTYPE 11, first+last fragment, frag_len 72 */
    uint8_t bind[16] = {5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 7, 0, 0, 0};
    struct dce_hdr h;
    CHECK_EQ(dce_hdr_check(bind, sizeof bind, &h), 1);
    CHECK_EQ(h.ptype, 11);
    CHECK(h.le);
    CHECK_EQ(h.frag_len, 72);
    CHECK_EQ(h.call_id, 7);
    /* the same, big-endian (drep 0x00): the lengths and call_id read the other way */
    uint8_t be[16] = {5, 0, 11, 3, 0x00, 0, 0, 0, 0, 72, 0, 0, 0, 0, 0, 7};
    CHECK_EQ(dce_hdr_check(be, sizeof be, &h), 1);
    CHECK(!h.le);
    CHECK_EQ(h.frag_len, 72);
    CHECK_EQ(h.call_id, 7);
    uint8_t v4[16];
    memcpy(v4, bind, 16);
    v4[0] = 4; /* connectionless version */
    CHECK_EQ(dce_hdr_check(v4, sizeof v4, NULL), -1);
    uint8_t shortlen[16];
    memcpy(shortlen, bind, 16);
    shortlen[8] = 8; /* a PDU shorter than its own header */
    CHECK_EQ(dce_hdr_check(shortlen, sizeof shortlen, NULL), -1);
    CHECK_EQ(dce_hdr_check(bind, 3, NULL), 0); /* too few bytes to tell */
}

/* GRE over IPv4 around `inner` (an IPv4 packet, or what proto says). */
static void gre_around(struct frame *f, uint16_t proto, const struct frame *inner)
{
    ipv4(f, (uint16_t)(20 + 4 + inner->n), 0, 47);
    put16(f, 0); /* no options, version 0 */
    put16(f, proto);
    put(f, inner->b, inner->n);
}

TEST(decode_tunnels_unknown_and_too_deep)
{
    /* the innermost packet: IPv4/TCP to 135 */
    struct frame in = {.n = 0};
    ipv4(&in, 40, 0x4000, 6);
    tcp(&in, 50000, 135, 1, 0, 0x02);
    /* GRE in GRE in ... : ENCAP_MAX_DEPTH layers open, one more is refused */
    struct frame layers = in;
    for (int depth = 1; depth <= ENCAP_MAX_DEPTH + 1; depth++) {
        struct frame f = {.n = 0};
        ethernet(&f, 0x0800);
        gre_around(&f, 0x0800, &layers);
        struct packet p = packet_of(&f, LINK_ETHERNET);
        enum decode_result r = decode_layers(&p);
        if (depth <= ENCAP_MAX_DEPTH) {
            CHECK_EQ(r, DECODE_OK);
            CHECK_EQ(p.encap_depth, depth);
            CHECK_EQ(p.dport, 135);
            CHECK(p.encaps & (1u << ENCAP_GRE));
        } else {
            CHECK_EQ(r, DECODE_UNKNOWN_ENCAP);
            char what[64];
            decode_encap_what(p.encap_what, what, sizeof what);
            CHECK_STR(what, "more than 4 tunnels inside one another");
        }
        struct frame next = {.n = 0};
        memcpy(next.b, f.b + 14, f.n - 14); /* the IP packet: the next layer's inner */
        next.n = f.n - 14;
        layers = next;
    }
    /* PPTP's GRE (version 1) and a GRE protocol nobody mirrors: named, not dropped silently */
    struct frame f = {.n = 0};
    ethernet(&f, 0x0800);
    gre_around(&f, 0x9999, &in);
    struct packet p = packet_of(&f, LINK_ETHERNET);
    CHECK_EQ(decode_layers(&p), DECODE_UNKNOWN_ENCAP);
    char what[64];
    decode_encap_what(p.encap_what, what, sizeof what);
    CHECK_STR(what, "GRE protocol 0x9999");
    f.b[14 + 20 + 1] = 1; /* version 1 */
    p = packet_of(&f, LINK_ETHERNET);
    CHECK_EQ(decode_layers(&p), DECODE_UNKNOWN_ENCAP);
    decode_encap_what(p.encap_what, what, sizeof what);
    CHECK_STR(what, "GRE version 1");
}

TEST(decode_vxlan_port_without_vxlan_is_plain_udp)
{
    struct frame f = {.n = 0};
    ethernet(&f, 0x0800);
    ipv4(&f, 20 + 8 + 30, 0x4000, 17);
    put16(&f, 40000);
    put16(&f, 4789);
    put16(&f, 8 + 30);
    put16(&f, 0);
    uint8_t junk[30];
    memset(junk, 0x41, sizeof junk); /* no I flag: not VXLAN */
    put(&f, junk, sizeof junk);
    struct packet p = packet_of(&f, LINK_ETHERNET);
    CHECK_EQ(decode_layers(&p), DECODE_OK);
    CHECK_EQ(p.proto, 17);
    CHECK_EQ(p.dport, 4789);
    CHECK_EQ(p.payload_len, 30);
    CHECK_EQ(p.encaps, 0);
}
