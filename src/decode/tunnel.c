/*
 * Encapsulations a mirror port hands over: GRE (RFC 2784, key and sequence
 * of RFC 2890) carrying IP, Ethernet or MPLS; ERSPAN type I, II and III
 * inside GRE; VXLAN (RFC 7348) and Geneve (RFC 8926) on their UDP ports;
 * Ethernet over an MPLS pseudowire with its control word (RFC 4448); NSH
 * (RFC 8300); Cisco FabricPath. Each layer is counted in p->encaps and
 * p->encap_depth (at most ENCAP_MAX_DEPTH: a deeper nesting is refused, so
 * the recursion through decode_ip/decode_ether is bounded); what a layer
 * carries that we cannot open is DECODE_UNKNOWN_ENCAP with p->encap_what,
 * which decode counts and reports, never a silent drop.
 */
#include <stdio.h>

#include "decode_internal.h"

#define ETH_ERSPAN_2 0x88be /* type II; type I when the GRE header has no sequence number */
#define ETH_ERSPAN_3 0x22eb

static bool enter(struct packet *p, enum packet_encap kind)
{
    if (p->encap_depth >= ENCAP_MAX_DEPTH)
        return false;
    p->encap_depth++;
    p->encaps |= (uint16_t)(1u << kind);
    return true;
}

static enum decode_result unknown(struct packet *p, uint32_t what)
{
    p->encap_what = what;
    return DECODE_UNKNOWN_ENCAP;
}

/* ERSPAN II: version 1, VLAN, COS/En/T, session, index: 8 octets, then the frame. */
static enum decode_result erspan2(struct packet *p, struct rd *c)
{
    uint8_t ver = rd_peek(c, 0) >> 4;
    rd_skip(c, 8);
    if (!rd_ok(c))
        return DECODE_TRUNCATED;
    if (ver != 1)
        return unknown(p, ENCAP_WHAT(WHAT_ERSPAN_VERSION, ver));
    return decode_ether(p, c);
}

/*
 * ERSPAN III: version 2; VLAN, COS, BSO, T, session (4 octets), timestamp
 * (4), SGT (2), then P, FT (frame type: 0 Ethernet, 2 IP), HW ID, D, Gra
 * and O (2); O: an 8-octet platform-specific sub-header follows.
 */
static enum decode_result erspan3(struct packet *p, struct rd *c)
{
    uint8_t ver = rd_peek(c, 0) >> 4;
    rd_skip(c, 10);
    uint16_t last = rd_u16be(c);
    if (!rd_ok(c))
        return DECODE_TRUNCATED;
    if (ver != 2)
        return unknown(p, ENCAP_WHAT(WHAT_ERSPAN_VERSION, ver));
    if (last & 1)
        rd_skip(c, 8);
    if (!rd_ok(c))
        return DECODE_TRUNCATED;
    uint8_t ft = (last >> 10) & 0x1f;
    if (ft == 0)
        return decode_ether(p, c);
    if (ft == 2)
        return decode_ip(p, c);
    return unknown(p, ENCAP_WHAT(WHAT_ERSPAN_FRAME, ft));
}

enum decode_result decode_gre(struct packet *p, struct rd *c)
{
    uint16_t flags = rd_u16be(c);
    uint16_t proto = rd_u16be(c);
    if (!rd_ok(c))
        return DECODE_TRUNCATED;
    if (!enter(p, ENCAP_GRE))
        return unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
    if ((flags & 7) != 0) /* version 1 is PPTP's enhanced GRE (PPP inside) */
        return unknown(p, ENCAP_WHAT(WHAT_GRE_VERSION, flags & 7));
    if (flags & 0x4000) /* RFC 1701 source routing: not sent by mirror ports */
        return unknown(p, ENCAP_WHAT(WHAT_GRE_ROUTING, 0));
    bool seq = flags & 0x1000;
    rd_skip(c, ((flags & 0x8000) ? 4u : 0u) + ((flags & 0x2000) ? 4u : 0u) + (seq ? 4u : 0u));
    if (!rd_ok(c))
        return DECODE_TRUNCATED;
    switch (proto) {
    case ETH_IPV4:
    case ETH_IPV6: return decode_ip(p, c);
    case ETH_TEB: return decode_ether(p, c);
    case ETH_MPLS: return decode_ethertype(p, c, ETH_MPLS);
    case ETH_ERSPAN_2:
        if (!enter(p, ENCAP_ERSPAN))
            return unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
        return seq ? erspan2(p, c) : decode_ether(p, c); /* no sequence number: type I */
    case ETH_ERSPAN_3:
        if (!enter(p, ENCAP_ERSPAN))
            return unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
        return erspan3(p, c);
    default: return unknown(p, ENCAP_WHAT(WHAT_GRE_PROTO, proto));
    }
}

bool decode_udp_tunnel(struct packet *p, struct rd *c, uint16_t dport, enum decode_result *r)
{
    if (dport == decode_opts.vxlan_port) {
        /* flags with I (a valid VNI) and nothing else set in the first octet; 8 octets */
        if (rd_left(c) < 8 + 14 || !(rd_peek(c, 0) & 0x08))
            return false;
        if (!enter(p, ENCAP_VXLAN)) {
            *r = unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
            return true;
        }
        rd_skip(c, 8);
        *r = decode_ether(p, c);
        return true;
    }
    if (dport == decode_opts.geneve_port) {
        /* version 0, options length in 4-octet words, protocol type, VNI */
        if (rd_left(c) < 8 || rd_peek(c, 0) >> 6 != 0)
            return false;
        size_t opts = (size_t)(rd_peek(c, 0) & 0x3f) * 4;
        uint16_t proto = (uint16_t)(rd_peek(c, 2) << 8 | rd_peek(c, 3));
        if (!enter(p, ENCAP_GENEVE)) {
            *r = unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
            return true;
        }
        rd_skip(c, 8 + opts);
        if (!rd_ok(c))
            *r = DECODE_TRUNCATED;
        else if (proto == ETH_TEB)
            *r = decode_ether(p, c);
        else if (proto == ETH_IPV4 || proto == ETH_IPV6)
            *r = decode_ip(p, c);
        else
            *r = unknown(p, ENCAP_WHAT(WHAT_GENEVE_PROTO, proto));
        return true;
    }
    return false;
}

enum decode_result decode_mpls_payload(struct packet *p, struct rd *c)
{
    if (!rd_has(c, 1))
        return DECODE_TRUNCATED;
    uint8_t nibble = rd_peek(c, 0) >> 4;
    if (nibble == 4 || nibble == 6)
        return decode_ip(p, c);
    if (nibble != 0) /* neither IP nor a pseudowire's control word */
        return unknown(p, ENCAP_WHAT(WHAT_MPLS, nibble));
    if (!enter(p, ENCAP_MPLS_PW))
        return unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
    rd_skip(c, 4); /* the control word: 0000, flags, length, sequence */
    return decode_ether(p, c);
}

/*
 * NSH: version, O, TTL, length (in 4-octet words: the whole header), MD
 * type, next protocol (1 IPv4, 2 IPv6, 3 Ethernet, 5 MPLS); then the
 * service path header and the context headers the length covers.
 */
enum decode_result decode_nsh(struct packet *p, struct rd *c)
{
    if (!rd_has(c, 8))
        return DECODE_TRUNCATED;
    size_t len = (size_t)(rd_peek(c, 1) & 0x3f) * 4;
    uint8_t next = rd_peek(c, 3);
    if (len < 8)
        return DECODE_INVALID;
    if (!enter(p, ENCAP_NSH))
        return unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
    rd_skip(c, len);
    if (!rd_ok(c))
        return DECODE_TRUNCATED;
    switch (next) {
    case 1:
    case 2: return decode_ip(p, c);
    case 3: return decode_ether(p, c);
    case 5: return decode_ethertype(p, c, ETH_MPLS);
    default: return unknown(p, ENCAP_WHAT(WHAT_NSH_PROTO, next));
    }
}

/* FabricPath: after its ethertype, the FTag and TTL (2 octets), then the original frame. */
enum decode_result decode_fabricpath(struct packet *p, struct rd *c)
{
    if (!enter(p, ENCAP_FABRICPATH))
        return unknown(p, ENCAP_WHAT(WHAT_TOO_DEEP, p->encap_depth));
    rd_skip(c, 2);
    if (!rd_ok(c))
        return DECODE_TRUNCATED;
    return decode_ether(p, c);
}

void decode_encap_what(uint32_t what, char *out, size_t outsz)
{
    unsigned n = what & 0xffffff;
    switch (what >> 24) {
    case WHAT_GRE_PROTO: snprintf(out, outsz, "GRE protocol 0x%04x", n); break;
    case WHAT_GRE_VERSION: snprintf(out, outsz, "GRE version %u", n); break;
    case WHAT_GRE_ROUTING: snprintf(out, outsz, "GRE with source routing"); break;
    case WHAT_ERSPAN_VERSION: snprintf(out, outsz, "ERSPAN version %u", n); break;
    case WHAT_ERSPAN_FRAME: snprintf(out, outsz, "ERSPAN III frame type %u", n); break;
    case WHAT_GENEVE_PROTO: snprintf(out, outsz, "Geneve protocol 0x%04x", n); break;
    case WHAT_MPLS: snprintf(out, outsz, "MPLS payload starting with nibble %u", n); break;
    case WHAT_NSH_PROTO: snprintf(out, outsz, "NSH next protocol %u", n); break;
    case WHAT_TOO_DEEP: snprintf(out, outsz, "more than %d tunnels inside one another", n); break;
    default: snprintf(out, outsz, "unknown encapsulation"); break;
    }
}
