/*
 * The packet record: one captured frame, as capture hands it on and decode
 * fills it in. It points into the captured bytes; nothing is copied. Beneath
 * every stage (record floor).
 */
#ifndef RPCSENTRY_PACKET_H
#define RPCSENTRY_PACKET_H

#include <stdbool.h>
#include <stdint.h>

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
#define TCP_URG 0x20

/* Encapsulations a mirror port hands over (decode/tunnel.c). */
enum packet_encap {
    ENCAP_GRE,        /* GRE (RFC 2784/2890) carrying IP, Ethernet (0x6558) or MPLS */
    ENCAP_ERSPAN,     /* ERSPAN type I, II (GRE 0x88be) and III (0x22eb) */
    ENCAP_VXLAN,      /* VXLAN (RFC 7348) on its UDP port */
    ENCAP_GENEVE,     /* Geneve (RFC 8926) on its UDP port, options skipped */
    ENCAP_MPLS_PW,    /* Ethernet over an MPLS pseudowire, with the control word */
    ENCAP_NSH,        /* Network Service Header (RFC 8300) */
    ENCAP_FABRICPATH, /* Cisco FabricPath */
    ENCAP_COUNT
};
/* Tunnels followed one inside another before the packet is refused. */
#define ENCAP_MAX_DEPTH 4

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
                             endpoint-mapper answer (rpc_mapper_port) */

    /* set by decode_layers */
    uint8_t ipver;            /* 4 or 6 */
    uint8_t proto;            /* IPPROTO_TCP/UDP/... */
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, rest zero */
    uint16_t sport, dport;
    uint16_t vlan[2];
    uint8_t vlan_cnt;
    uint16_t key_vlan;   /* the VLAN the flow key uses: vlan[0], or 0 when VLANs are not
                            used for tracking (decode_opts) */
    uint8_t encap_depth; /* tunnels opened to reach the inner packet */
    uint16_t encaps;     /* bit per enum packet_encap it came through */
    uint32_t encap_what; /* DECODE_UNKNOWN_ENCAP: what was not known (packet_encap_name) */
    bool ip_len_fixed;   /* IP length disagreed with the frame; captured bytes used */
    bool defragged;      /* a datagram put together from IP fragments: data is not a frame
                            as captured (decode.c) */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    uint16_t tcp_window, tcp_urgent; /* as sent (the window not scaled) */
    uint8_t tcp_wscale;              /* a SYN's window scale option: 1 + its shift (at most
                                        14, RFC 7323), 0 when it carried none */
    const uint8_t *payload;          /* transport payload within data */
    uint32_t payload_len;
    const uint8_t *l3; /* the IP header, and the IP packet's length as used */
    uint32_t l3_len;
    const uint8_t *l4; /* the TCP/UDP header, and the segment's length to the IP end */
    uint32_t l4_len;
    /* DECODE_FRAGMENT: the fragment, for reassembly (decode/defrag.c) */
    const uint8_t *frag_data; /* its data, frag_len octets at frag_off of the datagram's */
    uint32_t frag_len, frag_off;
    uint32_t frag_id;      /* identification (IPv4: 16 bits) */
    bool frag_more;        /* more fragments follow */
    uint8_t frag_proto;    /* the protocol (IPv6: the fragment header's next header) */
    uint16_t frag_hdr_len; /* octets from l3 to the data (IPv6: to the fragment header) */
    uint16_t frag_nh_at;   /* IPv6: offset from l3 of the next-header octet naming it */
};

/*
 * True when the IPv4 header checksum and the TCP/UDP checksum (with its
 * pseudo-header) are right, or cannot be judged: an IP length fixed from the
 * frame (captured before segmentation offload, where checksums are left to
 * the card) or a UDP checksum of 0 over IPv4 (none sent). Needs the packet decoded
 * (decode_layers returned DECODE_OK).
 */
bool packet_checksums_ok(const struct packet *p);

/*
 * The ports of the endpoint mapper (135, and 593 for ncacn_http) and of SMB
 * (139, 445: its epmapper pipe). Endpoint-mapper answers
 * (iface/epm.c) are learnt only on flows with one of
 * them, while a frame of such a port is handled (or the capture ends), so
 * that the reader of several workers can tell, by the ports alone, which
 * frames may teach the table (the worker's order_wait).
 */
static inline bool rpc_mapper_port(uint16_t port)
{
    return port == 135 || port == 445 || port == 139 || port == 593;
}

#endif
