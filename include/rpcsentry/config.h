/*
 * Run-time settings: limits, timeouts and switches. Filled with defaults by
 * config_defaults() and then by the command line; read-only afterwards.
 */
#ifndef RPCSENTRY_CONFIG_H
#define RPCSENTRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keystore;

struct config {
    /* flows */
    uint32_t flow_max;           /* flow records at most; the idle ones are evicted beyond */
    uint32_t flow_hash_size;     /* buckets (rounded up to a power of two) */
    uint32_t tcp_timeout_new;    /* seconds idle before a flow without data ends */
    uint32_t tcp_timeout_est;    /* seconds idle for an established TCP flow */
    uint32_t tcp_timeout_closed; /* seconds after FIN/RST */
    uint32_t udp_timeout;

    /* memory */
    size_t memcap;                 /* global cap on accounted memory, bytes */
    size_t stream_memcap;          /* cap on buffered out-of-order TCP data, all flows */
    uint32_t stream_ooo_max;       /* buffered out-of-order bytes per direction */
    uint32_t stream_ooo_segs;      /* buffered out-of-order segments per direction */
    size_t pcap_log_memcap;        /* the pcap log (-w): frames held of undecided flows, all
                                      flows, a cap of its own beside memcap */
    uint32_t pcap_log_flow_buffer; /* and of one flow: its first frames up to this */

    /* DCE/RPC */
    uint32_t dce_stub_max;     /* request/response stub bytes kept per call */
    uint32_t dce_max_calls;    /* outstanding calls per association */
    uint32_t dce_max_contexts; /* presentation contexts per association */
    uint32_t dce_call_timeout; /* seconds before an unanswered call is given up */
    uint32_t epm_ttl;          /* seconds an endpoint-mapper answer names its port */

    /* output */
    bool compat;               /* drop the rpcsentry extension object */
    bool log_binds;            /* write bind/alter_context records */
    bool log_flows;            /* write a `flow` record when each flow ends */
    bool ndpi;                 /* identify flows with nDPI (when built with it) */
    bool alert_each_direction; /* Suricata's way: a rule alerts at the request and again at
                                  the response when both match; default once per call */
    uint16_t community_id_seed;

    /* decode */
    uint8_t checksum_checks; /* enum checksum_mode */
    uint8_t defrag_policy;   /* enum defrag_policy: whose bytes overlapping IP fragments keep */
    uint32_t defrag_timeout; /* seconds a datagram waits for its fragments */
    size_t defrag_memcap;    /* cap on fragments waiting, all datagrams */

    /* stream */
    bool tcp_urgent_inline;     /* the urgent byte stays in the stream (SO_OOBINLINE); default:
                                   taken out of it, as Windows and Linux deliver it out of band */
    uint8_t tcp_overlap_policy; /* enum tcp_overlap_policy: whose bytes overlapping TCP segments
                                   waiting out of order keep, as the receiving host would */

    /* behaviour */
    uint64_t hash_seed; /* keyed hash for flow tables */

    /* the operator's keys (--ntlm-secrets), shared read-only; NULL: none, nothing unsealed */
    const struct keystore *keys;
};

/* IP reassembly's overlap policies (decode/defrag.c): as these hosts reassemble. */
enum defrag_policy { DEFRAG_WINDOWS, DEFRAG_LINUX, DEFRAG_BSD, DEFRAG_FIRST, DEFRAG_LAST };

/* TCP's overlap policies (stream/tcp.c, README): as these hosts keep overlapping segments. */
enum tcp_overlap_policy {
    TCP_OVERLAP_WINDOWS,
    TCP_OVERLAP_LINUX,
    TCP_OVERLAP_BSD,
    TCP_OVERLAP_OLD_LINUX,
    TCP_OVERLAP_SOLARIS,
    TCP_OVERLAP_FIRST,
    TCP_OVERLAP_LAST,
};

/*
 * Which packets with a wrong checksum are not used. A host that leaves
 * checksums to its card shows wrong ones on all it sends when captured on
 * itself; an attacker's decoy segment is a wrong one among right ones.
 */
enum checksum_mode {
    CHECKSUM_NONE, /* every packet is used (the default) */
    CHECKSUM_AUTO, /* TCP on flows being decoded: dropped once the same direction has
                      carried a right checksum */
    CHECKSUM_ALL,  /* every IPv4, TCP and UDP checksum judged, as Suricata's -k all */
};

void config_defaults(struct config *c);

#endif
