/*
 * decode: link layer, VLAN tags, IPv4/IPv6 and TCP/UDP headers of one frame.
 * The packet struct points into the captured bytes; nothing is copied.
 */
#ifndef RPCSENTRY_DECODE_H
#define RPCSENTRY_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "rpcsentry/types.h"

struct worker;

/* Link types (DLT_/LINKTYPE_ values as pcap files carry them). */
enum {
    LINK_NULL = 0,
    LINK_ETHERNET = 1,
    LINK_RAW = 101,      /* LINKTYPE_RAW */
    LINK_RAW_DLT12 = 12, /* DLT_RAW on most platforms */
    LINK_RAW_DLT14 = 14, /* DLT_RAW on OpenBSD */
    LINK_LOOP = 108,
    LINK_SLL = 113,
    LINK_IPV4 = 228,
    LINK_IPV6 = 229,
    LINK_SLL2 = 276,
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct packet {
    /* set by capture */
    const uint8_t *data;
    uint32_t caplen;
    uint32_t wirelen;
    uint64_t ts_us;
    uint64_t pcap_cnt;
    int linktype;
    uint64_t order_seq;   /* several workers reading files: the frame's place in the run */
    uint64_t clock_us;    /* and the latest time of the file's frames up to it (0: ts_us) */
    uint64_t answers_seq; /* and the place of the last frame up to it that may carry an
                             endpoint-mapper answer (epm_mapper_port) */

    /* set by decode_layers */
    uint8_t ipver;            /* 4 or 6 */
    uint8_t proto;            /* IPPROTO_TCP/UDP/... */
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, rest zero */
    uint16_t sport, dport;
    uint16_t vlan[2];
    uint8_t vlan_cnt;
    bool ip_len_fixed; /* IP length disagreed with the frame; captured bytes used */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    const uint8_t *payload; /* transport payload within data */
    uint32_t payload_len;
    const uint8_t *l3; /* the IP header, and the IP packet's length as used */
    uint32_t l3_len;
    const uint8_t *l4; /* the TCP/UDP header, and the segment's length to the IP end */
    uint32_t l4_len;
};

enum decode_result {
    DECODE_OK,
    DECODE_NOT_IP,      /* ARP, LLDP, ...: not for us, not an error */
    DECODE_OTHER_PROTO, /* IP, but neither TCP nor UDP */
    DECODE_FRAGMENT,    /* IP fragment: not reassembled, counted */
    DECODE_TRUNCATED,   /* headers cut short by the snap length */
    DECODE_INVALID,     /* malformed headers */
    DECODE_UNSUPPORTED_LINK,
};

/* Parses p->data per p->linktype and fills the decoded fields. Pure. */
enum decode_result decode_layers(struct packet *p);

/*
 * True when the IPv4 header checksum and the TCP/UDP checksum (with its
 * pseudo-header) are right, or cannot be judged: an IP length fixed from the
 * frame (captured before segmentation offload, where checksums are left to
 * the card) or a UDP checksum of 0 over IPv4 (none sent). Needs decode_layers
 * to have returned DECODE_OK.
 */
bool decode_checksums_ok(const struct packet *p);

/* Stage entry: decodes, counts, and hands TCP/UDP packets to the flow stage. */
void decode_packet(struct worker *w, struct packet *p);

/*
 * The same in two steps, for a reader that looks a few frames ahead:
 * decode_ahead decodes a frame (p set as capture sets it), computes its flow
 * key and asks the memory system for the hash bucket its lookup will read;
 * decode_packet_ahead later counts it and hands it on as decode_packet does.
 * Between the two, flow_prefetch_record and transport_prefetch may fetch
 * the flow's record and state.
 * Only hints: the lookup still reads whatever is there when its turn comes.
 */
struct packet_ahead {
    struct packet p;
    enum decode_result r;
    struct flow_key k; /* when r is DECODE_OK */
    uint64_t h;
};
void decode_ahead(struct worker *w, struct packet_ahead *a);
void decode_packet_ahead(struct worker *w, struct packet_ahead *a);

/*
 * A reader's look-ahead: each frame is decoded as it is pushed and handed on
 * AHEAD_DEPTH frames later; meanwhile its flow's hash bucket, the record the
 * bucket points to, the flow's transport state and its SMB or DCE/RPC
 * engine's state are fetched into the cache, one step a frame, so the
 * stages do not wait for memory (with thousands of flows at once their
 * state does not stay in the cache: those misses were a quarter of a run on
 * RPC-heavy traffic). The worker's packet count and clock follow the frame
 * being handed on. A reader drains it before the frames' memory goes, and
 * keeps the memory of the frames it holds (see read_mapped).
 */
#define AHEAD_DEPTH 4
struct ahead {
    struct packet_ahead a[AHEAD_DEPTH + 1];
    unsigned head, n;
};
/* p: the capture's fields (data, caplen, wirelen, ts_us, linktype, pcap_cnt, order_seq,
 * clock_us, answers_seq). */
void ahead_push(struct worker *w, struct ahead *ah, const struct packet *p);
void ahead_drain(struct worker *w, struct ahead *ah);

#endif
