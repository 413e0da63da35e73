/* Shared inside src/output: the output object and the header writer. */
#ifndef RPCSENTRY_OUTPUT_INTERNAL_H
#define RPCSENTRY_OUTPUT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "rpcsentry/json.h"
#include "rpcsentry/output.h"
#include "rpcsentry/types.h"

struct sink;
struct rpc_call;

#define OUTPUT_MAX_SINKS 8

/* What the workers' outputs share: the sinks, behind one lock, so that records never mix. */
struct output_shared {
    struct sink *sinks[OUTPUT_MAX_SINKS];
    size_t n_sinks;
    pthread_mutex_t lock;
    unsigned views;               /* outputs using it; the last to close closes the sinks */
    _Atomic uint64_t unformatted; /* records lost before any sink: no memory to build them */
};

/*
 * The endpoints of a flow as a record writes them, and its Community ID (a
 * SHA-1), kept for the flow's next records: they come in bursts.
 */
#define HEADER_CACHE 64
struct header_cache {
    struct flow_key key; /* the flow_id is a hash: the key settles it */
    uint64_t flow_id;
    uint8_t src;
    bool used;
    uint16_t tuple_len;
    char tuple
        [192]; /* "src_ip":..,"src_port":..,"dest_ip":..,"dest_port":..,"proto":..[,"vlan":[..]]
                */
    char cid[40];
};

/* One worker's output: its record buffer and the shared sinks. */
struct output {
    struct output_opts opts;
    struct output_shared *sh;
    struct json j;    /* the record being built, reused */
    struct json tail; /* a call's part of its alerts, written once per batch (output_alerts) */
    const struct rpc_call *tail_of; /* the answered call whose alerts wrote tail just now: its
                                       own record, next, is the same part (output_call) */
    int kind;                       /* enum event_kind of the record being built */
    struct header_cache hc[HEADER_CACHE];
};

/*
 * Starts a record in o->j: timestamp, flow_id, pcap_cnt, event_type and,
 * with a flow, the endpoints (src = endpoint src_ep), proto, app_proto and
 * community_id. The caller adds its objects and closes the outer object.
 * cid, when not NULL, is the flow's own store of its Community ID (see
 * struct rpc_transport): computed once per flow, not once per miss of the
 * worker's small cache of recent headers.
 */
void eve_header(struct worker *w, struct output *o, const struct flow_ref *fr, int src_ep,
                uint64_t ts_us, uint64_t pcap_cnt, const char *event_type, const char *app_proto,
                char *cid);

struct alert_info;
/* Suricata's `alert` object (eve_call.c); references: alert.references too. */
void eve_write_alert(struct json *j, const struct alert_info *a, bool references);

/* Hands the finished record to every sink and counts it. */
void output_emit(struct worker *w, struct output *o);

/* Zeek's dce_rpc.log (zeek.c): the header, one line per call, the closing line. */
void zeek_begin(struct output *o);
void zeek_call(struct worker *w, struct output *o, const struct rpc_call *c);
void zeek_end(struct output_shared *sh, enum output_format f);

#endif
