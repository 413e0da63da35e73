/*
 * flow: the flow table. One record (flow_record.h) per TCP/UDP connection,
 * keyed on both directions, kept in an LRU order for timeouts and eviction.
 */
#ifndef RPCSENTRY_FLOW_H
#define RPCSENTRY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/flow_record.h"
#include "rpcsentry/types.h"

struct worker;
struct packet;

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
 * Hints for a reader that looks ahead (decode_prefetch), a stage a frame, each once the
 * one before has had time to arrive: the bucket of a key's hash, the record at its head,
 * then while the record fetched is another flow's the next of its chain (a table grows
 * past two flows a bucket: a flow is second in its chain as often as not), then for the
 * flow found its transport's and its engine's state (stream_prefetch). Returns the next
 * stage; *cand is the record the stages are at.
 */
enum {
    FLOW_PREFETCH_BUCKET,
    FLOW_PREFETCH_HEAD,
    FLOW_PREFETCH_MATCH,
    FLOW_PREFETCH_ENGINE,
    FLOW_PREFETCH_DONE
};
int flow_prefetch(struct worker *w, const struct packet *p, const struct flow_key *k, uint64_t h,
                  int stage, const struct flow **cand);

/* Ends flows idle past their timeout, as of capture time now_us. */
void flow_expire(struct worker *w, uint64_t now_us);

/* Ends every flow (end of a capture file, shutdown). */
void flow_flush_all(struct worker *w);

/* Sender's endpoint index for a packet of flow f. */
int flow_packet_ep(const struct flow *f, const struct packet *p);

/* Builds the canonical key of a packet (for tests and lookups). */
void flow_key_from_packet(const struct packet *p, struct flow_key *k, bool *swapped);

#endif
