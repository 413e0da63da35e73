/*
 * The flow record: one per TCP/UDP connection, owned by the flow table
 * (flow.h), handed to every later stage. It holds the counters and TCP
 * tracking of every flow and points to the state later stages allocate for
 * the flows they engage (`tcp`, `app_state`), released through
 * stream_flow_end() when the flow ends. Beneath every stage (record floor).
 */
#ifndef RPCSENTRY_FLOW_RECORD_H
#define RPCSENTRY_FLOW_RECORD_H

#include <stdint.h>

#include "rpcsentry/types.h"

struct tcp_session;

/* What the transport decided a flow carries. */
enum flow_app {
    FLOW_APP_UNKNOWN = 0, /* still being probed */
    FLOW_APP_DCERPC,      /* DCE/RPC directly over TCP (ncacn_ip_tcp) */
    FLOW_APP_SMB,         /* SMB (ncacn_np) */
    FLOW_APP_IGNORED,     /* not ours: the cheap path from here on */
    FLOW_APP_RAW,         /* not ours, but byte-level fallback rules read its stream */
};

enum flow_end_reason { FLOW_END_TIMEOUT, FLOW_END_EVICTED, FLOW_END_CLOSED, FLOW_END_FLUSH };

/*
 * Laid out for the packet path: a lookup reads the first cache line only
 * (chain and key), every packet of a flow also writes the second; the third
 * is for flows being decoded, eviction and the end. Records sit on 64-byte
 * boundaries in their slabs.
 */
struct flow {
    /* line 0: the lookup */
    struct flow *hnext; /* hash chain */
    struct flow_ref ref;
    /* line 1: every packet */
    uint64_t last_us;
    uint64_t lru_us;   /* when it last moved to the head of the LRU list */
    uint64_t bytes[2]; /* per endpoint, as sent */
    uint32_t pkts[2];
    /* TCP in-order tracking, kept here so uninteresting flows need nothing more */
    uint32_t next_seq[2];           /* next expected sequence number per sender */
    uint8_t seq_known;              /* bit per endpoint: next_seq valid */
    uint8_t flags_seen[2];          /* TCP flags each endpoint has sent */
    uint8_t app;                    /* enum flow_app */
    uint8_t closed;                 /* FIN from both sides or a RST */
    uint8_t ndpi_state;             /* enum appid_state (appid.c) */
    uint8_t ndpi_pkts;              /* packets with payload shown to nDPI */
    uint8_t checksum_good;          /* bit per endpoint: sent a right TCP checksum */
    uint8_t data_seen;              /* bit per endpoint: in-order data went on to the transport */
    uint8_t app_hint;               /* enum flow_app nDPI recognised (FLOW_APP_DCERPC, FLOW_APP_SMB)
                                       for the transport still probing the flow; 0 none (appid.c) */
    uint16_t ndpi_master, ndpi_app; /* nDPI's verdict (appid.c), once it decides */
    uint8_t wscale;                 /* a nibble per endpoint (ep 0 low): its SYN's window scale
                                       option, 1 + the shift; 0 none (stream/tcp.c) */
    uint8_t pcap_state;             /* the pcap log's (output/pcap_log.c) word on the flow:
                                       0 until it sees a packet; it alone sets it */
    /* line 2: the rest */
    struct flow *lru_prev, *lru_next; /* newest at the head */
    uint64_t hash;
    uint64_t first_us;
    struct tcp_session *tcp; /* out-of-order buffers; NULL until needed */
    void *app_state;         /* transport's state; NULL until it engages */
    /* nDPI (appid.c): its state until it decides (its verdict is in line 1) */
    void *ndpi;
    anomaly_mask anomalies_seen; /* anomaly kinds already reported on this flow */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct flow) == 192, "a flow record is three cache lines");

#endif
