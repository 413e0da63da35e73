/*
 * flow: the flow table. One record per TCP/UDP connection, keyed on both
 * directions, kept in an LRU order for timeouts and eviction. The record owns
 * the per-flow state of later stages through the `tcp` and `app` pointers,
 * which those stages allocate and which are released through
 * stream_flow_end() when the flow ends.
 */
#ifndef RPCSENTRY_FLOW_H
#define RPCSENTRY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/types.h"

struct worker;
struct packet;
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
    uint32_t next_seq[2];  /* next expected sequence number per sender */
    uint8_t seq_known;     /* bit per endpoint: next_seq valid */
    uint8_t flags_seen[2]; /* TCP flags each endpoint has sent */
    uint8_t app;           /* enum flow_app */
    uint8_t closed;        /* FIN from both sides or a RST */
    uint8_t ndpi_state;    /* enum appid_state (appid.c) */
    uint8_t ndpi_pkts;     /* packets with payload shown to nDPI */
    uint8_t checksum_good; /* bit per endpoint: sent a right TCP checksum */
    /* line 2: the rest */
    struct flow *lru_prev, *lru_next; /* newest at the head */
    uint64_t hash;
    uint64_t first_us;
    struct tcp_session *tcp; /* out-of-order buffers; NULL until needed */
    void *app_state;         /* transport's state; NULL until it engages */
    /* nDPI (appid.c): its state until it decides, then its verdict */
    void *ndpi;
    uint32_t anomalies_seen; /* anomaly kinds already reported on this flow */
    uint16_t ndpi_master, ndpi_app;
} __attribute__((aligned(64)));

struct flow_table;

struct flow_table *flow_table_new(struct worker *w);
void flow_table_free(struct worker *w, struct flow_table *t);
uint32_t flow_table_count(const struct flow_table *t);

/* Stage entry: finds or creates the packet's flow and passes it on. */
void flow_packet(struct worker *w, const struct packet *p);
/* The same with the packet's key (flow_key_from_packet) and its flow_key_hash known. */
void flow_packet_keyed(struct worker *w, const struct packet *p, const struct flow_key *k,
                       uint64_t h);
uint64_t flow_key_hash(const struct worker *w, const struct flow_key *k);

/*
 * Hints for a reader that looks ahead (see decode_ahead): the bucket of a
 * key's hash, then, once that has had time to arrive, the record at its head.
 */
void flow_prefetch_bucket(struct worker *w, uint64_t h);
void flow_prefetch_record(struct worker *w, uint64_t h);
/* The flow at the head of a hash's bucket (the likely one), or NULL: for further hints. */
const struct flow *flow_bucket_head(const struct worker *w, uint64_t h);

/* Ends flows idle past their timeout, as of capture time now_us. */
void flow_expire(struct worker *w, uint64_t now_us);

/* Ends every flow (end of a capture file, shutdown). */
void flow_flush_all(struct worker *w);

/* Sender's endpoint index for a packet of flow f. */
int flow_packet_ep(const struct flow *f, const struct packet *p);

/* Builds the canonical key of a packet (for tests and lookups). */
void flow_key_from_packet(const struct packet *p, struct flow_key *k, bool *swapped);

#endif
