/*
 * Small value types shared along the pipeline: a flow's identity as records
 * describe it, and the anomaly catalogue.
 */
#ifndef RPCSENTRY_TYPES_H
#define RPCSENTRY_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A flow's endpoints in canonical order: endpoint 0 is the lower of
 * (address, port), so both directions of a connection share one key.
 * IPv4 addresses sit in the first 4 bytes of addr, the rest zero.
 */
struct flow_key {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint16_t vlan; /* outermost VLAN id, 0 when untagged */
    uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP */
    uint8_t ipver; /* 4 or 6 */
};

#define FLOW_CLIENT_UNKNOWN 0xff

/* What an event needs to know about the flow it belongs to. */
struct flow_ref {
    struct flow_key key;
    uint64_t flow_id;      /* stable for the flow's life, below 2^53 (exact in JSON) */
    uint8_t client;        /* endpoint index of the side that opened it, or FLOW_CLIENT_UNKNOWN */
    bool overlap_conflict; /* TCP segments overlapped with different bytes (first kept) */
    uint16_t vlan;         /* the outer VLAN tag of its first packet, 0 none: for records,
                              whether or not VLANs are in the key (decode_opts) */
    bool alerted;          /* a rule alerted on the flow (its `flow` record says so); set by
                              detect on the ref its calls and streams point at */
    bool target;           /* a call about a task or a service (iface_call_target) was seen on
                              it; set by detect as `alerted` (the pcap log keeps such flows) */
};
_Static_assert(sizeof(struct flow_ref) == 56, "the flow record's first line holds the ref");

/* What a `flow` record says of a flow that ends; the flow stage fills it for output. */
struct flow_summary {
    const struct flow_ref *ref;
    uint64_t first_us, last_us;
    uint64_t bytes[2]; /* per endpoint, as sent */
    uint32_t pkts[2];
    uint8_t flags_seen[2]; /* TCP flags each endpoint sent */
    bool closed;           /* FIN from both sides or a RST */
    int reason;            /* enum flow_end_reason */
    const char *app_proto; /* Suricata's name for what the flow carried, or NULL */
    bool ndpi;             /* nDPI's verdict follows */
    bool ndpi_guessed;
    char ndpi_protocol[64];
    const char *ndpi_category; /* or NULL */
};

static inline int flow_key_alen(const struct flow_key *k)
{
    return k->ipver == 6 ? 16 : 4;
}

/*
 * Anomalies: bad input worth a counter and, where an analyst cares, an
 * `anomaly` event. Columns: identifier, Suricata anomaly type, event name,
 * app_proto (or NULL), whether an event is written.
 */
#define ANOMALY_TYPES(X)                                                                           \
    X(ANOM_DECODE_UNKNOWN_ENCAP, "decode", "decoder.unknown_encapsulation", NULL, true)            \
    X(ANOM_DEFRAG_OVERLAP, "decode", "defrag.overlap_conflict", NULL, true)                        \
    X(ANOM_DEFRAG_TINY_FIRST, "decode", "defrag.tiny_first_fragment", NULL, true)                  \
    X(ANOM_DEFRAG_TOO_LARGE, "decode", "defrag.too_large", NULL, true)                             \
    X(ANOM_STREAM_GAP, "stream", "stream.reassembly_gap", NULL, true)                              \
    X(ANOM_STREAM_OVERLAP, "stream", "stream.reassembly_overlap", NULL, true)                      \
    X(ANOM_STREAM_OOO_MEMCAP, "stream", "stream.out_of_order_memcap", NULL, true)                  \
    X(ANOM_STREAM_MIDSTREAM, "stream", "stream.midstream_pickup", NULL, false)                     \
    X(ANOM_STREAM_BAD_CHECKSUM, "stream", "stream.bad_checksum", NULL, true)                       \
    X(ANOM_STREAM_AFTER_FIN, "stream", "stream.data_after_fin", NULL, true)                        \
    X(ANOM_STREAM_SYN_DATA, "stream", "stream.syn_data_ignored", NULL, true)                       \
    X(ANOM_STREAM_RST_IGNORED, "stream", "stream.rst_out_of_window", NULL, true)                   \
    X(ANOM_STREAM_URGENT, "stream", "stream.urgent_data", NULL, true)                              \
    X(ANOM_STREAM_BEYOND_WINDOW, "stream", "stream.beyond_window", NULL, true)                     \
    X(ANOM_STREAM_ZERO_WINDOW_PROBE, "stream", "stream.zero_window_probe", NULL, true)             \
    X(ANOM_STREAM_WINDOW_UNSEEN, "stream", "stream.window_update_unseen", NULL, false)             \
    X(ANOM_DCE_INVALID_HEADER, "applayer", "dcerpc.invalid_header", "dcerpc", true)                \
    X(ANOM_DCE_RESYNC, "applayer", "dcerpc.resynchronised", "dcerpc", true)                        \
    X(ANOM_DCE_INVALID_AUTH, "applayer", "dcerpc.invalid_auth_trailer", "dcerpc", true)            \
    X(ANOM_DCE_MALFORMED_PDU, "applayer", "dcerpc.malformed_pdu", "dcerpc", true)                  \
    X(ANOM_DCE_UNEXPECTED_PTYPE, "applayer", "dcerpc.unexpected_pdu_type", "dcerpc", true)         \
    X(ANOM_DCE_TOO_MANY_CONTEXTS, "applayer", "dcerpc.too_many_contexts", "dcerpc", true)          \
    X(ANOM_DCE_TOO_MANY_CALLS, "applayer", "dcerpc.too_many_calls", "dcerpc", true)                \
    X(ANOM_DCE_STUB_TOO_LARGE, "applayer", "dcerpc.stub_too_large", "dcerpc", true)                \
    X(ANOM_DCE_FRAG_MISMATCH, "applayer", "dcerpc.fragment_mismatch", "dcerpc", true)              \
    X(ANOM_DCE_CALL_ID_REUSE, "applayer", "dcerpc.call_id_reuse", "dcerpc", true)                  \
    X(ANOM_DCE_UNKNOWN_CONTEXT, "applayer", "dcerpc.unknown_context", "dcerpc", false)             \
    X(ANOM_DCE_MEMCAP, "applayer", "dcerpc.memcap", "dcerpc", true)                                \
    X(ANOM_DCE_ORPHAN_RESPONSE, "applayer", "dcerpc.response_without_request", "dcerpc", false)    \
    X(ANOM_DCE_UNMATCHED_BINDACK, "applayer", "dcerpc.bindack_without_bind", "dcerpc", false)      \
    X(ANOM_SMB_MALFORMED, "applayer", "smb.malformed", "smb", true)                                \
    X(ANOM_SMB_ENCRYPTED, "applayer", "smb.encrypted_session", "smb", true)                        \
    X(ANOM_SMB_TOO_MANY_PIPES, "applayer", "smb.too_many_pipes", "smb", true)                      \
    X(ANOM_SMB_MEMCAP, "applayer", "smb.memcap", "smb", true)                                      \
    X(ANOM_SMB_CLOSED_FID, "applayer", "smb.write_on_closed_file", "smb", true)                    \
    X(ANOM_SMB_WRITE_REFUSED, "applayer", "smb.write_refused", "smb", true)                        \
    X(ANOM_SMB_WRITE_UNANSWERED, "applayer", "smb.write_unanswered", "smb", true)                  \
    X(ANOM_STUB_MALFORMED, "applayer", "dcerpc.stub_malformed", "dcerpc", true)                    \
    X(ANOM_DCE_DECRYPT_FAILED, "applayer", "dcerpc.decrypt_failed", "dcerpc", true)

enum anomaly_type {
#define X(id, type, event, app, ev) id,
    ANOMALY_TYPES(X)
#undef X
        ANOM_COUNT
};

/* A bit per anomaly kind: those already reported on a flow, an association, a session. */
typedef uint64_t anomaly_mask;

struct anomaly_info {
    const char *type;
    const char *event;
    const char *app_proto;
    bool write_event;
};

const struct anomaly_info *anomaly_info(enum anomaly_type t);

#endif
