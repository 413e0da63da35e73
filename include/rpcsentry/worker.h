/*
 * A worker: one thread's share of the sensor. It owns its flow table, its
 * counters and its memory account; the stages receive it as their context.
 * Nothing in it is shared with other workers except through `out`.
 */
#ifndef RPCSENTRY_WORKER_H
#define RPCSENTRY_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "rpcsentry/config.h"
#include "rpcsentry/mem.h"
#include "rpcsentry/stats.h"
#include "rpcsentry/types.h"

struct flow_table;
struct output;
struct detect;
struct smb_registry;
struct smb3_table;
struct epm_table;
struct appid;
struct defrag;
struct runtime_shared;
struct story_table;
struct rpc_call;
struct smb_file_record;
struct smb_pipe_record;
struct flow_summary;
struct flow;
struct packet;
struct pcap_log;
struct pcap_log_flows;

struct worker {
    const struct config *cfg;
    struct stats stats;
    uint64_t anomalies[ANOM_COUNT];
    anomaly_mask packet_anomalies_seen; /* packet-level anomaly kinds this worker has reported */
    struct memacct mem;
    struct flow_table *flows;
    struct detect *detect;             /* the rule set this worker matches against */
    struct output *out;                /* where records go */
    struct smb_registry *smb_registry; /* SMB sessions across connections (transport) */
    struct smb3_table *smb3;           /* SMB 3 session keys across channels (transport) */
    /* a decoder's working buffer (the task XML as UTF-8), a fixed cost per worker
     * kept out of the memcap: a full memcap must not stop the decoding of a creation */
    char *scratch;
    size_t scratch_len;
    struct epm_table *epm; /* ports the endpoint mapper announced (iface/epm.c) */
    struct appid *appid;   /* nDPI, or NULL (flow/appid.c) */
    bool process_ends;     /* worker_teardown is the process's last work: what only the
                              kernel needs back is left to it (appid_close_at_exit) */
    /*
     * With no flow records, a TCP packet of a flow the transport has not placed goes to
     * nDPI after the stream, not before (flow.c): if the transport places the flow on
     * it, nobody reads nDPI's verdict. The probe calls appid_due before it reads the
     * flow's hint (transport.c); nDPI sees the held packet then, so the hint is the
     * one it would have been.
     */
    const struct packet *appid_held;
    struct flow *appid_held_flow;
    void (*appid_due)(struct worker *w, struct flow *f);
    struct defrag *defrag;       /* IP reassembly (decode/defrag.c); NULL until a fragment */
    struct story_table *stories; /* calls adding up to an execution (detect) */
    /* service keys winreg saw made lately, by server and client (iface/winreg.c): an
     * ImagePath set on one over a later connection (reg.py opens one per command) makes
     * the service */
#define WORKER_REG_RECENT 16
    struct {
        uint8_t server[16], client[16];
        uint64_t ts_us;
        char name[56]; /* lower case */
    } reg_recent[WORKER_REG_RECENT];
    unsigned reg_recent_next;

    /* the capture clock and position: the packet being handled */
    uint64_t now_us;
    uint64_t pcap_cnt;
    /* the capture's clock: the latest frame time so far in the file, whichever worker
       had the frame (frames' times may go back a little; this does not) */
    uint64_t clock_us;
    const char *pcap_filename;

    /*
     * Called for every anomaly after it is counted, with the flow it belongs
     * to (NULL for packet-level ones). Set by whoever wires the pipeline.
     */
    void (*on_anomaly)(struct worker *w, const struct flow_ref *fr, enum anomaly_type t,
                       const char *detail);
    /* The same for an anomaly about one call (its interface, operation, call_id, tx_id). */
    void (*on_call_anomaly)(struct worker *w, const struct rpc_call *call, enum anomaly_type t,
                            const char *detail);
    /* Called when a flow ends, with what its `flow` record says, if flow records are
       wanted (cfg->log_flows); NULL: none written. */
    void (*on_flow_end)(struct worker *w, const struct flow_summary *s);
    /* Called for a file written over SMB on a disk share, when it is closed or its
       connection ends (transport/smb_file.c); NULL: none written. */
    void (*on_file)(struct worker *w, const struct smb_file_record *f);
    /* The same for a named pipe a tool's name or its non-RPC bytes make worth a record. */
    void (*on_pipe)(struct worker *w, const struct smb_pipe_record *p);

    /*
     * Rule reload: when *reload_requested is set (a signal handler), the
     * capture loop clears it and calls reload between two packets.
     */
    volatile sig_atomic_t *reload_requested;
    void (*reload)(struct worker *w);

    /*
     * Capture order across workers reading files (runtime/dispatch.c); NULL
     * with one worker and live. order_at: w starts the frame placed at seq in
     * the run (all of its own before it are done); answers_seq is the place of
     * the last frame up to it that may carry an endpoint-mapper answer
     * (decode_may_answer; a file's end counts). order_wait: returns once every
     * other worker has done all its frames placed before w's current one, so
     * that what w does next to a table the workers share comes after
     * everything earlier in the capture, as with one worker; with `answers`,
     * only the frames before it that may carry an answer (all a lookup needs).
     */
    void (*order_at)(struct worker *w, uint64_t seq, uint64_t answers_seq);
    void (*order_wait)(struct worker *w, bool answers);
    /* reading files with several workers: this (reading) worker hands packets over */
    struct dispatch *dispatch;
    struct dispatch *dispatch_of; /* the dispatcher feeding this worker */
    unsigned dispatch_index;      /* which of its workers this one is */
    uint64_t order_seq;           /* the place in the run of the frame being handled */
    uint64_t answers_seq;         /* the last place up to it that may teach the EPM table */
    /* the frame being handled is on an endpoint-mapper port (or an IP fragment), or the
       flows are being ended with their capture: an answer delivered now is learnt */
    bool frame_may_answer;

    /* Called at least every 100 ms by a live capture loop, even on a quiet link: timeouts,
       a new rule set (runtime.c's worker_tick). */
    void (*tick)(struct worker *w, uint64_t now_us);
    /* live capture (runtime.c): what the workers share, and this worker's view of it */
    struct runtime_shared *shared;
    unsigned rules_gen; /* the rule set generation this worker uses */
    int linktype;
    uint64_t kernel_received, kernel_dropped, kernel_if_dropped;
    /* AF_XDP: an endpoint-mapper answer named a TCP port; the XDP program must let it in */
    void (*on_port_learned)(struct worker *w, uint16_t port);
    void *port_ctx;

    /* The pcap log (-w, output/pcap_log.c); NULL when off. on_flow_packet: after the
       stages have handled p, a packet of f (which p may just have marked); on_flow_close:
       as f ends, after the stream has let it go (its last calls done). */
    void (*on_flow_packet)(struct worker *w, struct flow *f, const struct packet *p);
    void (*on_flow_close)(struct worker *w, struct flow *f);
    struct pcap_log *pcap_log;         /* the writer, shared by the workers */
    struct pcap_log_flows *pcap_flows; /* this worker's held flows */
};

static inline void worker_poll(struct worker *w)
{
    if (w->reload_requested && *w->reload_requested) {
        *w->reload_requested = 0;
        if (w->reload)
            w->reload(w);
    }
}

/*
 * Counts an anomaly and reports it. `seen` (may be NULL) is a per-flow bitmask
 * so that each kind is reported once per flow; the counter always moves.
 */
void anomaly_raise(struct worker *w, const struct flow_ref *fr, anomaly_mask *seen,
                   enum anomaly_type t, const char *detail);
/* The same for an anomaly about one call: the record names the call (see on_call_anomaly). */
void anomaly_raise_call(struct worker *w, const struct rpc_call *call, anomaly_mask *seen,
                        enum anomaly_type t, const char *detail);

#endif
