/*
 * stream: TCP reassembly per direction.
 *
 * In-order payload goes straight to the transport without a copy. Segments
 * ahead of the expected sequence number are buffered (bounded per direction
 * and by the stream memcap) until the hole is filled.
 *
 * Overlap policy, the target host's (--tcp-overlap-policy, Windows by default):
 * bytes already delivered are never replaced; where a segment covers bytes
 * buffered out of order with other bytes, the policy says whose are kept.
 * Overlaps are counted; buffered overlaps whose bytes differ raise a
 * stream.reassembly_overlap anomaly.
 *
 * The advertised window: bytes past the receiver's window are held aside, replaced
 * by a copy that comes in window, delivered once the receiver acknowledges them.
 *
 * Gaps: when the peer acknowledges data that was never captured, when the
 * out-of-order buffer is full, or at the end of the flow, the hole is skipped
 * and the transport told how many bytes are missing, so the protocol engine
 * can re-synchronise on its next valid header.
 */
#ifndef RPCSENTRY_STREAM_H
#define RPCSENTRY_STREAM_H

struct worker;
struct flow;
struct packet;

/* Stage entry for a TCP packet of flow f sent by endpoint ep. */
void stream_packet(struct worker *w, struct flow *f, const struct packet *p, int ep);

/* A look-ahead's hint (flow_prefetch): step 0 the transport's state of f, 1 its engine's. */
void stream_prefetch(const struct flow *f, int step);

/* Flushes what is buffered (with gaps), ends the transport, frees the session. */
void stream_flow_end(struct worker *w, struct flow *f);

#endif
