/*
 * decode: link layer, VLAN tags, IPv4/IPv6 and TCP/UDP headers of one frame.
 * The packet struct points into the captured bytes; nothing is copied.
 */
#ifndef RPCSENTRY_DECODE_H
#define RPCSENTRY_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/packet.h"
#include "rpcsentry/types.h"

struct worker;

enum decode_result {
    DECODE_OK,
    DECODE_NOT_IP,      /* ARP, LLDP, ...: not for us, not an error */
    DECODE_OTHER_PROTO, /* IP, but neither TCP nor UDP */
    DECODE_FRAGMENT,    /* IP fragment: not reassembled, counted */
    DECODE_TRUNCATED,   /* headers cut short by the snap length */
    DECODE_INVALID,     /* malformed headers */
    DECODE_UNSUPPORTED_LINK,
    DECODE_UNKNOWN_ENCAP, /* a tunnel (or what one carries) we cannot open: p->encap_what */
};

/*
 * What decoding depends on, set once before any packet (the defaults hold
 * otherwise): the UDP ports of VXLAN (4789) and Geneve (6081), 0 for none;
 * whether the outer VLAN tag is part of the flow key (false: a connection
 * whose directions carry different tags stays one flow; true: as Suricata's
 * vlan.use-for-tracking, overlapping address spaces on VLANs stay apart).
 */
struct decode_opts {
    uint16_t vxlan_port, geneve_port;
    bool vlan_tracking;
};
void decode_configure(const struct decode_opts *o);

/* What a DECODE_UNKNOWN_ENCAP packet carried, for the anomaly: "GRE protocol 0x880b", ... */
void decode_encap_what(uint32_t what, char *out, size_t outsz);

/*
 * Whether a frame decoded to r may carry an endpoint-mapper answer: it is on
 * a mapper's port (rpc_mapper_port), or an IP fragment (whose ports may be in
 * another fragment). What the reader of several workers orders by.
 */
static inline bool decode_may_answer(const struct packet *p, enum decode_result r)
{
    return r == DECODE_FRAGMENT ||
           (r == DECODE_OK && (rpc_mapper_port(p->sport) || rpc_mapper_port(p->dport)));
}

/* Parses p->data per p->linktype and fills the decoded fields. Pure. */
enum decode_result decode_layers(struct packet *p);

/* Frees the worker's decode state (fragments waiting for their datagram). */
void decode_worker_free(struct worker *w);

/* Stage entry: decodes, counts, and hands TCP/UDP packets to the flow stage. */
void decode_packet(struct worker *w, struct packet *p);

/*
 * The same in steps, for a reader that looks a few frames ahead (capture.h's
 * struct ahead): decode_ahead decodes a frame (p set as capture sets it),
 * computes its flow key and asks the memory system for the hash bucket its
 * lookup will read; decode_prefetch, once a frame while it waits, takes its
 * look-up one stage further (flow_prefetch): the record at the bucket's head,
 * the next one of the chain while the one fetched is another flow's, then the
 * flow's transport state and its engine's state. decode_packet_ahead counts
 * the frame and hands it on as decode_packet does. Only hints: the lookup
 * still reads whatever is there when its turn comes.
 */
struct packet_ahead {
    struct packet p;
    enum decode_result r;
    struct flow_key k; /* when r is DECODE_OK */
    uint64_t h;
    const struct flow *cand; /* the look-ahead's flow so far (flow_prefetch) */
    int stage;               /* and how far it has gone */
};
void decode_ahead(struct worker *w, struct packet_ahead *a);
void decode_prefetch(struct worker *w, struct packet_ahead *a);
void decode_packet_ahead(struct worker *w, struct packet_ahead *a);

#endif
