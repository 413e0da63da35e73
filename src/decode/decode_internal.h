/* decode's parts, between decode.c (links, VLANs, IP, TCP/UDP) and tunnel.c (encapsulations). */
#ifndef RPCSENTRY_DECODE_INTERNAL_H
#define RPCSENTRY_DECODE_INTERNAL_H

#include "rpcsentry/cursor.h"
#include "rpcsentry/decode.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_TEB 0x6558 /* transparent Ethernet bridging: an Ethernet frame follows */
#define ETH_MPLS 0x8847

struct worker;

extern struct decode_opts decode_opts;

/* An IP packet at the cursor (version from its first nibble). */
enum decode_result decode_ip(struct packet *p, struct rd *c);
/* What follows an ethertype (VLAN tags, PPPoE, MPLS, NSH, FabricPath, IP). */
enum decode_result decode_ethertype(struct packet *p, struct rd *c, uint16_t type);
/* An Ethernet frame at the cursor, from its destination address. */
enum decode_result decode_ether(struct packet *p, struct rd *c);

/*
 * The tunnels (tunnel.c). Each opens one layer (counted in p->encaps and
 * p->encap_depth) and decodes what it carries; DECODE_UNKNOWN_ENCAP with
 * p->encap_what set when it carries something we cannot open.
 */
enum decode_result decode_gre(struct packet *p, struct rd *c);
/* VXLAN or Geneve in the UDP payload at c (dport names which); false: plain UDP. */
bool decode_udp_tunnel(struct packet *p, struct rd *c, uint16_t dport, enum decode_result *r);
/* After an MPLS label stack's bottom: IPv4, IPv6, or an Ethernet pseudowire. */
enum decode_result decode_mpls_payload(struct packet *p, struct rd *c);
enum decode_result decode_nsh(struct packet *p, struct rd *c);
enum decode_result decode_fabricpath(struct packet *p, struct rd *c);

/*
 * A fragment (p from decode_layers, DECODE_FRAGMENT) into the worker's
 * reassembly; when it completes a datagram, out is the datagram as a raw IP
 * packet (its bytes in the worker's buffer, until the next call) and is
 * returned; NULL otherwise.
 */
const struct packet *defrag_packet(struct worker *w, const struct packet *p, struct packet *out);
void defrag_free(struct worker *w);

/* Kinds of encapsulation_what: the layer, and the number it did not know. */
#define ENCAP_WHAT(kind, n) ((uint32_t)(kind) << 24 | ((uint32_t)(n)&0xffffff))
enum {
    WHAT_GRE_PROTO = 1,
    WHAT_GRE_VERSION,
    WHAT_ERSPAN_VERSION,
    WHAT_GENEVE_PROTO,
    WHAT_MPLS,
    WHAT_NSH_PROTO,
    WHAT_TOO_DEEP,
    WHAT_GRE_ROUTING,
    WHAT_ERSPAN_FRAME
};

#endif
