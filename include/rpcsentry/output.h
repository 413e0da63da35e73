/*
 * output: formats records as EVE JSON lines and hands the bytes to a sink.
 * Formatting (eve.c) and moving bytes (sink.c) are separate.
 */
#ifndef RPCSENTRY_OUTPUT_H
#define RPCSENTRY_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/stats.h"
#include "rpcsentry/types.h"

#include "rpcsentry/rpc_call.h"
#include "rpcsentry/types.h"

struct worker;
struct output;

/* EVE JSON; Zeek's dce_rpc.log as Zeek's JSON lines, or as Zeek's tab-separated text */
enum output_format { FORMAT_EVE, FORMAT_ZEEK, FORMAT_ZEEK_TSV };

struct output_opts {
    const char *log_dir;        /* eve.json (or dce_rpc.log) goes there; "-" = standard output */
    bool log_dir_set;           /* named by the user: its file is kept beside the -o outputs */
    const char *const *outputs; /* -o specs (sink.h); none: only the file in log_dir */
    size_t n_outputs;
    enum output_format format;
    const char *syslog_target, *syslog_tag;
    size_t queue_cap;      /* bytes queued per sink that talks to another process */
    const char *eve_path;  /* when set, records go to this file instead (tests: /dev/null) */
    bool compat;           /* drop the rpcsentry extension (validates against Suricata's schema) */
    bool log_binds;        /* bind/alter_context exchanges as records of their own */
    bool with_filename;    /* pcap_filename in every record */
    bool alert_references; /* alert.references (Suricata: metadata.rule.reference) */
    bool zeek_all_operations; /* Zeek's format: also the calls Zeek's ignored_operations skip */
    uint16_t community_id_seed;
    bool lossless;          /* reading files: outputs wait, never drop (sink.h) */
    unsigned output_wait_s; /* lossless: an output that takes nothing this long has failed */
    volatile bool *stop;    /* set when an output fails for good: the run should end */
    const char *host;       /* the sensor's name: "host" in every record (NULL: none) */
    const char *in_iface;   /* live: the interface, "in_iface" in every record */
};

/* Opens the outputs; NULL with a message in err when that fails. */
struct output *output_open(const struct output_opts *o, char *err, size_t errlen);
/* Another worker's output on the same sinks (its own record buffer); NULL when out of memory. */
struct output *output_view(struct output *base);
/* Flushes and closes (the sinks close with the last view); safe on NULL. */
void output_close(struct output *out);
void output_flush(struct output *out);
/* Reopens the files (log rotation: SIGHUP). */
void output_reopen(struct output *out);
/* Waits until every sink wrote what it took, or gave up (sink.h); before the summary. */
void output_drain(struct output *out);
/* Records some output did not deliver so far (dropped by a sink, or never built). */
uint64_t output_undelivered(struct output *out);
/* "file:/var/log/rpcsentry/eve.json, redis://..." into buf; returns its length. */
size_t output_describe(const struct output *out, char *buf, size_t len);

/* Each sink's counters, for stats and the summary: count how many, fill up to n. */
struct output_sink_stats {
    char spec[256];
    uint64_t written, dropped;
    bool failed;
    char why[160]; /* the first reason for a loss, or "" */
};
size_t output_sink_stats(struct output *out, struct output_sink_stats *st, size_t n);

/* The sensor's counters at one moment, summed over the workers. */
struct stats_snapshot {
    struct stats s;
    uint64_t anomalies[ANOM_COUNT];
    uint64_t kernel_received, kernel_dropped, kernel_if_dropped;
    bool live; /* kernel counters mean something */
    uint64_t uptime_s;
    uint64_t flows_active;
    size_t mem_in_use, mem_peak;
    uint64_t mem_refused;
    size_t mem_pcap_peak; /* the pcap log's buffers at their largest (each worker's peak) */
    unsigned workers;
    uint64_t ts_us;
};
/* One `stats` record, as Suricata writes them, with the rest in the extension. */
void output_stats(struct worker *w, const struct stats_snapshot *snap);

/* One `flow` record, as Suricata writes it, for a flow that ends. */
void output_flow(struct worker *w, const struct flow_summary *f);

struct smb_file_record;
/* One `fileinfo` record for a file written over SMB on a disk share. */
void output_file(struct worker *w, const struct smb_file_record *f);
struct smb_pipe_record;
/* One `smb` record for a named pipe a remote-execution tool talks over. */
void output_pipe(struct worker *w, const struct smb_pipe_record *p);
struct alert_info;
/* An `alert` on a file written or a tool's pipe: the alert, then that record's objects. */
void output_file_alert(struct worker *w, const struct smb_file_record *f,
                       const struct alert_info *a);
void output_pipe_alert(struct worker *w, const struct smb_pipe_record *p,
                       const struct alert_info *a);

/* One `dcerpc` record for a finished call or bind. */
void output_call(struct worker *w, const struct rpc_call *call);

struct rpc_story;

/* Writes the rule's "alert" member once, into a->rendered, for every alert it raises. */
void output_alert_render(struct alert_info *a);

/* An `alert` record for each of n rules that matched the call (at its request, or its
 * response), in order. */
void output_alerts(struct worker *w, const struct rpc_call *call, const struct alert_info *const *a,
                   unsigned n, bool at_response);

/* One `lateral_movement` record for a recognised story, and an alert a rule raised on it. */
void output_story(struct worker *w, const struct rpc_story *s);
void output_story_alert(struct worker *w, const struct rpc_story *s, const struct alert_info *a);

/* An alert from a byte-level rule on a TCP stream direction (ep = the sender). */
void output_stream_alert(struct worker *w, const struct flow_ref *fr, int ep,
                         const struct alert_info *a);

/* One `anomaly` record about a call: its flow, tx_id, and in the extension its interface,
 * operation, opnum, call_id and context. */
void output_call_anomaly(struct worker *w, const struct rpc_call *call, enum anomaly_type t,
                         const char *detail);

/* One `anomaly` record (fr may be NULL for packet-level anomalies). */
void output_anomaly(struct worker *w, const struct flow_ref *fr, enum anomaly_type t,
                    const char *detail);

#endif
