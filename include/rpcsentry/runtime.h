/*
 * runtime: workers for live capture. Each worker owns its flows and their
 * state and writes through its own output view onto shared sinks; what
 * workers share (the endpoint mapper's table, the rule set) sits in
 * runtime_shared. A rule reload publishes a new set; each worker adopts it
 * between two packets, and the old set is freed once all have.
 */
#ifndef RPCSENTRY_RUNTIME_H
#define RPCSENTRY_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/stats.h"
#include "rpcsentry/types.h"

struct worker;
struct config;
struct output;
struct detect;
struct pcap_log;

struct runtime_shared {
    pthread_mutex_t lock;
    struct epm_table *epm;
    struct story_table *stories; /* live capture; reading files each worker keeps its own */
    struct detect *detect;       /* the rule set workers adopt */
    struct detect *retired;      /* the one before it, until every worker has let go */
    unsigned gen;                /* bumped at each reload */
    unsigned adopted;            /* workers on `gen` */
    unsigned workers;
};

/*
 * Sets up a worker on cfg, writing to out (which it owns from now on), with
 * the rule set d (shared, not owned) and, for live capture, sh. nDPI opens
 * here when cfg asks for it. False with err when something cannot be had.
 */
bool worker_setup(struct worker *w, const struct config *cfg, struct output *out, struct detect *d,
                  struct runtime_shared *sh, char *err, size_t errlen);

/* Ends every flow and story (their records are written), frees the worker's state and output. */
void worker_teardown(struct worker *w);

/* Takes the published rule set if it is newer than the one in use. */
void worker_adopt_rules(struct worker *w);

/* Called at least every 100 ms by a live capture loop: timeouts, a new rule set. */
void worker_tick(struct worker *w, uint64_t now_us);

/* Publishes a new rule set to the workers; false (and d is not taken) while the last
 * reload is still being adopted. */
bool runtime_publish_rules(struct runtime_shared *sh, struct detect *d);

/* Frees the retired rule set once every worker has adopted the new one. */
void runtime_collect(struct runtime_shared *sh);

/*
 * Reading captures with several workers (a thread each): the reading
 * thread hands each packet to its flow's worker.
 */
struct dispatch;
struct dispatch *dispatch_start(struct worker **ws, unsigned n);
/* stays: data stays where it is until dispatch_file_end returns (a mapped file): not copied. */
void dispatch_packet(struct dispatch *d, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                     uint64_t ts_us, int linktype, uint64_t pcap_cnt, bool stays);
/*
 * The earliest frame handed over where it lies (stays) that a worker may
 * still read, or NULL: the reader lets mapped pages go only before it. Also
 * sends on the batches being filled, so that a worker that gets few frames
 * does not hold the oldest for long.
 */
const uint8_t *dispatch_oldest_frame(struct dispatch *d);
void dispatch_file_begin(struct dispatch *d, const char *path);
/* The file ended: each worker flushes its flows and stories when it gets there. */
void dispatch_file_end(struct dispatch *d);
/* Waits for the workers to finish their queues, then stops them (and unhooks them). */
void dispatch_finish(struct dispatch *d);

/* ---- a run (run.c) ---- */

struct live_opts;
struct xdp_opts;
struct config;
struct output;

/* What the command line decided for a run: main.c fills it, the run reads it. */
struct run_config {
    struct config *cfg;       /* the engines' settings */
    const char *const *reads; /* -r: files and directories, in order */
    size_t nreads;
    const char *bpf;            /* a filter expression, or NULL */
    const char *dest;           /* the outputs, as the start line names them */
    const char *user;           /* --user, or NULL */
    bool quiet, separate;       /* -q; --separate-captures */
    int progress;               /* 1 on, 0 off, -1 when stderr is a terminal */
    int stats_interval;         /* seconds; -1: the mode's default (30 live, none else) */
    unsigned file_workers;      /* reading files: workers */
    struct live_opts *live;     /* libpcap settings (live: iface set) */
    struct xdp_opts *xdp;       /* AF_XDP settings (live: iface set) */
    volatile bool *stop;        /* set by SIGINT/SIGTERM, and by a failed output */
    volatile sig_atomic_t *hup; /* SIGHUP, for the live supervisor */
    volatile sig_atomic_t *reload_in_file;          /* SIGHUP, for the worker reading files */
    struct detect *(*load_rules)(unsigned *errors); /* the rule set, again at SIGHUP */
    struct pcap_log *pcap_log; /* -w: the writer (owned by the run from here on), or NULL */
    const char *pcap_log_path;
};

/*
 * Reads the captures of rc into out with rule set d (both owned from here on:
 * closed and freed before it returns). Returns the exit status: 0, 1 (a
 * capture failed or setup did), 3 (a record was not delivered).
 */
int runtime_run_files(const struct run_config *rc, struct detect *d, struct output *out);
/* Captures live on rc->live->iface or rc->xdp->iface until *rc->stop; the same statuses. */
int runtime_run_live(const struct run_config *rc, struct detect *d, struct output *out);

#endif
