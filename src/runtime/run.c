/*
 * A run: the captures read from files (one worker, or a reader handing frames
 * to several), or live capture with a thread per socket; privileges dropped
 * once everything is open; stats, rule reloads on SIGHUP; at the end every
 * output drained, the summary, and the exit status. main.c only parses the
 * settings and hands them over in a struct run_config.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rpcsentry/appid.h"
#include "rpcsentry/capture.h"
#include "rpcsentry/config.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/hunt.h"
#include "rpcsentry/log.h"
#include "rpcsentry/notify.h"
#include "rpcsentry/output.h"
#include "rpcsentry/pcap_log.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

/* The run's rule loader (for SIGHUP) and its stop flag, for the callbacks and threads. */
static struct detect *(*loader)(unsigned *errors);
static volatile bool *run_stop;

static uint64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* The counters of the workers, summed (read while they run: each figure is a moment's). */
static void snapshot(struct worker *const *ws, unsigned n, bool live, uint64_t started_us,
                     struct stats_snapshot *out)
{
    memset(out, 0, sizeof *out);
    out->workers = n;
    out->live = live;
    out->ts_us = wall_us();
    for (unsigned i = 0; i < n; i++) {
        const struct worker *w = ws[i];
        stats_add(&out->s, &w->stats);
        for (int t = 0; t < ANOM_COUNT; t++)
            out->anomalies[t] += w->anomalies[t];
        out->kernel_received += w->kernel_received;
        out->kernel_dropped += w->kernel_dropped;
        out->kernel_if_dropped += w->kernel_if_dropped;
        out->flows_active += w->flows ? flow_table_count(w->flows) : 0;
        out->mem_in_use += w->mem.total_used;
        out->mem_peak += w->mem.total_peak;
        for (int c = 0; c < MEM_CAT_COUNT; c++)
            out->mem_refused += w->mem.refused[c];
        out->mem_pcap_peak += w->mem.peak[MEM_PCAP];
    }
    out->uptime_s = started_us && out->ts_us > started_us ? (out->ts_us - started_us) / 1000000 : 0;
}

static void print_summary(const struct stats_snapshot *sn, const char *what)
{
    const struct stats *s = &sn->s;
    fprintf(stderr,
            "rpcsentry: %s, %llu packets, %llu bytes, %llu flows "
            "(%llu DCE/RPC over TCP, %llu SMB)\n",
            what, (unsigned long long)s->packets, (unsigned long long)s->bytes,
            (unsigned long long)s->flows_created, (unsigned long long)s->app_dcerpc_flows,
            (unsigned long long)s->app_smb_flows);
    if (sn->live)
        fprintf(stderr,
                "rpcsentry: kernel: %llu packets received, %llu dropped, %llu dropped by "
                "the interface\n",
                (unsigned long long)sn->kernel_received, (unsigned long long)sn->kernel_dropped,
                (unsigned long long)sn->kernel_if_dropped);
    fprintf(stderr,
            "rpcsentry: RPC calls: %llu (%llu on task/service interfaces): create %llu, "
            "modify %llu, delete %llu, execute %llu, read %llu, other %llu; "
            "%llu binds, %llu unreplied, %llu sealed; %llu alerts, %llu stories\n",
            (unsigned long long)s->dce_calls, (unsigned long long)s->target_calls,
            (unsigned long long)s->calls_create, (unsigned long long)s->calls_modify,
            (unsigned long long)s->calls_delete, (unsigned long long)s->calls_execute,
            (unsigned long long)s->calls_read, (unsigned long long)s->calls_other,
            (unsigned long long)s->dce_binds, (unsigned long long)s->dce_unreplied,
            (unsigned long long)s->dce_sealed, (unsigned long long)s->alerts,
            (unsigned long long)s->stories);
    if (s->smb_decrypted || s->smb_decrypt_failed) {
        fprintf(stderr, "rpcsentry: SMB 3 encryption: %llu messages decrypted",
                (unsigned long long)s->smb_decrypted);
        if (s->smb_decrypt_failed)
            fprintf(stderr, ", %llu not (the smb.encrypted_session anomalies say why)",
                    (unsigned long long)s->smb_decrypt_failed);
        fprintf(stderr, "\n");
    }
    if (s->smb_files || s->smb_tool_pipes || s->smb_write_refused)
        fprintf(stderr,
                "rpcsentry: SMB: %llu files written (fileinfo records), %llu tool pipes, %llu "
                "pipe writes refused by the server\n",
                (unsigned long long)s->smb_files, (unsigned long long)s->smb_tool_pipes,
                (unsigned long long)s->smb_write_refused);
    if (s->epm_learned)
        fprintf(stderr,
                "rpcsentry: endpoint mapper: %llu endpoints learned, %llu connections named "
                "from them\n",
                (unsigned long long)s->epm_learned, (unsigned long long)s->epm_named);
    fprintf(stderr, "rpcsentry: anomalies: %llu", (unsigned long long)s->anomalies);
    const char *sep = " (";
    for (int t = 0; t < ANOM_COUNT; t++)
        if (sn->anomalies[t]) {
            fprintf(stderr, "%s%s %llu", sep, anomaly_info((enum anomaly_type)t)->event,
                    (unsigned long long)sn->anomalies[t]);
            sep = ", ";
        }
    fprintf(stderr, "%s\n", strcmp(sep, " (") ? ")" : "");
    fprintf(stderr,
            "rpcsentry: tcp: %llu gaps, %llu out-of-order, %llu overlaps; "
            "decode: %llu truncated, %llu invalid, %llu IP fragments (%llu datagrams "
            "reassembled), %llu IP lengths fixed\n",
            (unsigned long long)s->tcp_gaps, (unsigned long long)s->tcp_out_of_order,
            (unsigned long long)s->tcp_overlaps, (unsigned long long)s->decode_truncated,
            (unsigned long long)s->decode_invalid, (unsigned long long)s->decode_ip_fragment,
            (unsigned long long)s->defrag_reassembled, (unsigned long long)s->decode_ip_len_fixed);
    if (s->defrag_timeouts || s->defrag_memcap || s->defrag_dropped)
        fprintf(stderr,
                "rpcsentry: IP reassembly: %llu datagrams timed out, %llu dropped at the "
                "memory cap, %llu refused (too large, too many fragments, two ends)\n",
                (unsigned long long)s->defrag_timeouts, (unsigned long long)s->defrag_memcap,
                (unsigned long long)s->defrag_dropped);
    if (s->decode_bad_checksum)
        fprintf(stderr, "rpcsentry: %llu packets dropped for a wrong checksum\n",
                (unsigned long long)s->decode_bad_checksum);
    fprintf(stderr, "rpcsentry: peak memory accounted %zu bytes\n", sn->mem_peak);
}

/*
 * -w: the writer let go of once every flow has ended (each worker unhooked
 * first), and what it wrote; false when a write failed (the exit status is 3).
 */
static bool pcap_log_done; /* closed: at the end, or at the teardown of a run that failed */

static bool pcap_log_finish(const struct run_config *st, struct worker *const *ws, unsigned n)
{
    if (!st->pcap_log || pcap_log_done)
        return true;
    pcap_log_done = true;
    for (unsigned i = 0; i < n; i++)
        pcap_log_detach(ws[i]);
    char err[4200];
    bool ok = pcap_log_close(st->pcap_log, err, sizeof err);
    if (!ok)
        log_error("%s: the pcap log is incomplete; exit status 3", err);
    return ok;
}

static void print_pcap_log(const struct run_config *st, const struct stats_snapshot *sn)
{
    if (!st->pcap_log_path)
        return;
    const struct stats *s = &sn->s;
    fprintf(stderr,
            "rpcsentry: pcap log %s: %llu packets of %llu flows written (%llu files); %llu "
            "packets of them not held (a flow's buffer or the cap ran out), %llu reassembled "
            "datagrams not written; held at most %zu bytes\n",
            st->pcap_log_path, (unsigned long long)s->pcap_log_packets,
            (unsigned long long)s->pcap_log_flows, (unsigned long long)s->pcap_log_files,
            (unsigned long long)s->pcap_log_dropped, (unsigned long long)s->pcap_log_defragged,
            sn->mem_pcap_peak);
}

/*
 * After the last record: waits for every output to write what it took, then
 * says per output what reached it (an output that lost records always, as an
 * error, even with -q). Returns the records some output did not deliver.
 */
static uint64_t finish_outputs(struct output *out)
{
    output_drain(out);
    return output_undelivered(out);
}

static void report_outputs(struct output *out, bool quiet)
{
    struct output_sink_stats ss[8];
    size_t n = output_sink_stats(out, ss, sizeof ss / sizeof ss[0]);
    for (size_t i = 0; i < n && i < sizeof ss / sizeof ss[0]; i++) {
        const char *name = strcmp(ss[i].spec, "-") ? ss[i].spec : "standard output";
        if (ss[i].dropped)
            log_error("output %s: %llu records written, %llu NOT DELIVERED (%s)", name,
                      (unsigned long long)ss[i].written, (unsigned long long)ss[i].dropped,
                      ss[i].why[0] ? ss[i].why : "dropped");
        else if (!quiet)
            fprintf(stderr, "rpcsentry: output %s: %llu records written\n", name,
                    (unsigned long long)ss[i].written);
    }
    uint64_t lost = output_undelivered(out);
    if (lost)
        log_error("%llu records were not delivered to every output they were meant for; exit "
                  "status 3",
                  (unsigned long long)lost);
}

/*
 * Drops root for user: groups, gid, uid; no capability survives the change of
 * uid. Capturing live as root without --user is allowed, with one warning.
 */
static bool drop_privileges(const char *user, bool warn_root)
{
    if (!user) {
        if (warn_root && geteuid() == 0)
            log_warn("running as root: give --user to drop privileges once capture is open");
        return true;
    }
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        log_error("--user %s: no such user", user);
        return false;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        log_error("--user %s: %s", user, strerror(errno));
        return false;
    }
    if (setuid(0) == 0) {
        log_error("--user %s: root could be taken back", user);
        return false;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    log_info("running as %s", user);
    return true;
}

/* ---- reading files ---- */

/*
 * A reload for the worker reading files, between two packets. If any rule
 * fails, the rules in use stay, as Suricata does on a failed reload.
 */
static void reload_in_worker(struct worker *w)
{
    output_reopen(w->out);
    unsigned errors = 0;
    struct detect *d = loader(&errors);
    if (!d || errors) {
        log_error("rule reload failed (%u errors): keeping the %u rules in use", errors,
                  detect_rule_count(w->detect));
        detect_free(d);
        w->stats.rule_reloads_failed++;
        return;
    }
    detect_free(w->detect);
    w->detect = d;
    w->stats.rule_reloads++;
    log_info("rules reloaded: %u rules", detect_rule_count(d));
}

/* With several workers reading files, SIGHUP publishes the reloaded rules to them. */
static void reload_publish(struct worker *reader)
{
    output_reopen(reader->out);
    unsigned errors = 0;
    struct detect *d = loader(&errors);
    if (!d || errors) {
        log_error("rule reload failed (%u errors): keeping the rules in use", errors);
        detect_free(d);
    } else if (!runtime_publish_rules(reader->shared, d)) {
        log_warn("rule reload: the previous one is still being adopted; try again");
        detect_free(d);
    } else {
        log_info("rules reloaded: %u rules", detect_rule_count(d));
    }
}

/* The shared state of a run's workers: lock, rule set, and what the mode shares. */
static bool shared_init(struct runtime_shared *sh, struct detect *d, unsigned workers, bool epm,
                        bool stories)
{
    memset(sh, 0, sizeof *sh);
    pthread_mutex_init(&sh->lock, NULL);
    sh->detect = d;
    sh->workers = workers;
    return (!epm || (sh->epm = epm_table_new_shared())) &&
           (!stories || (sh->stories = story_table_new_shared()));
}

/* Frees the rule sets it holds (the one in use and a retired one) and the shared tables. */
static void shared_free(struct runtime_shared *sh)
{
    runtime_collect(sh);
    detect_free(sh->retired);
    detect_free(sh->detect);
    epm_table_free_shared(sh->epm);
    story_table_free_shared(sh->stories);
    pthread_mutex_destroy(&sh->lock);
}

/* A run over files: its workers and, with several, the reader that hands frames over. */
struct files_run {
    const struct run_config *st;
    unsigned n, set_up;
    struct capture_input *files;
    struct worker *ws, **wp;
    struct worker reader;
    struct runtime_shared sh;
    struct output *view; /* the outputs, for the summary (owned by a worker or reader) */
    uint64_t started;
    unsigned done, failed, skipped;
};

/* The workers, each on a view of the outputs (one worker: on out itself). */
static bool files_setup(struct files_run *fr, struct detect *detect, struct output *out)
{
    const struct run_config *st = fr->st;
    char err[512];
    unsigned n = fr->n;
    fr->files = capture_expand(st->reads, st->nreads, err, sizeof err);
    fr->ws = calloc(n, sizeof *fr->ws);
    fr->wp = calloc(n, sizeof *fr->wp);
    fr->reader.cfg = st->cfg; /* several workers: the thread that reads and hands over */
    fr->view = out;
    bool shared_ok = shared_init(&fr->sh, detect, n, n > 1, false);
    if (!fr->files || !fr->ws || !fr->wp || !shared_ok) {
        log_error("%s", fr->files ? "out of memory" : err);
        output_close(out);
        return false;
    }
    for (; fr->set_up < n; fr->set_up++) {
        struct output *o = n == 1 ? out : output_view(out);
        if (!o || !worker_setup(&fr->ws[fr->set_up], st->cfg, o, detect, n > 1 ? &fr->sh : NULL,
                                err, sizeof err)) {
            log_error("%s", o ? err : "out of memory");
            if (n > 1)
                output_close(o);
            if (n > 1 || !fr->set_up)
                output_close(out);
            return false;
        }
        fr->wp[fr->set_up] = &fr->ws[fr->set_up];
        if (st->pcap_log && !pcap_log_attach(&fr->ws[fr->set_up], st->pcap_log)) {
            log_error("out of memory");
            fr->set_up++;
            return false;
        }
    }
    if (n == 1) { /* the worker owns out now */
        fr->ws[0].reload_requested = st->reload_in_file;
        fr->ws[0].reload = reload_in_worker;
    } else {
        fr->reader.out = out;
        fr->reader.shared = &fr->sh;
        fr->reader.reload_requested = st->reload_in_file;
        fr->reader.reload = reload_publish;
    }
    if (!drop_privileges(st->user, false))
        return false;
    if (n > 1 && !(fr->reader.dispatch = dispatch_start(fr->wp, n))) {
        log_error("out of memory");
        return false;
    }
    return true;
}

/* What a capture's status adds to the counts; its outcome for the closing table. */
static enum hunt_outcome files_outcome(struct files_run *fr, const struct capture_input *f,
                                       const struct capture_result *res, struct hunt *hunt)
{
    switch (res->status) {
    case CAPTURE_OK: fr->done++; return HUNT_READ;
    case CAPTURE_TRUNCATED:
        fr->done++;
        hunt_stop_progress(hunt); /* messages on lines of their own */
        log_warn("%s", res->message);
        return HUNT_READ;
    case CAPTURE_NOT_CAPTURE:
        if (f->from_dir) {
            fr->skipped++;
            log_info("skipping %s", res->message);
            return HUNT_SKIPPED;
        }
        /* a file named on its own must be a capture */
        __attribute__((fallthrough));
    case CAPTURE_ERROR:
    case CAPTURE_BAD_FILTER: break;
    }
    fr->failed++;
    hunt_stop_progress(hunt);
    log_error("%s", res->message);
    return HUNT_FAILED;
}

/* Every capture in order, until the list ends or the run is asked to stop. */
static void files_read(struct files_run *fr, struct hunt *hunt)
{
    const struct run_config *st = fr->st;
    unsigned n = fr->n;
    struct worker *rd = n > 1 ? &fr->reader : &fr->ws[0];
    for (struct capture_input *f = fr->files; f->path && !*st->stop; f++) {
        struct capture_result res;
        hunt_file_begin(hunt, (size_t)(f - fr->files));
        capture_file(rd, f->path, st->bpf, st->stop, &res);
        if (n == 1) { /* flows and stories end with their capture */
            flow_flush_all(rd);
            detect_flush(rd);
        }
        /*
         * What crosses from one capture to the next: flows and stories end with
         * their capture (above, and at each file's end in the workers); what was
         * learnt about the hosts (the endpoint mapper's answers, until their
         * time to live, and SMB sessions met on another channel) is kept, as
         * the pieces of a rotated capture want, unless --separate-captures.
         * The same with any number of workers: they are idle here, and the
         * endpoint-mapper table they share is used in capture order.
         */
        if (st->separate)
            for (unsigned i = 0; i < n; i++)
                transport_forget(&fr->ws[i]);
        enum hunt_outcome outcome = files_outcome(fr, f, &res, hunt);
        /* the workers are idle between captures (the dispatch waits for them): count */
        struct stats_snapshot now;
        snapshot(fr->wp, n, false, fr->started, &now);
        hunt_file_end(hunt, (size_t)(f - fr->files), &now.s, outcome);
        if (res.status == CAPTURE_BAD_FILTER)
            break; /* the same expression fails on every file */
    }
}

/* Everything ended and written, the summary; returns the exit status. */
static int files_finish(struct files_run *fr, struct hunt *hunt)
{
    const struct run_config *st = fr->st;
    unsigned n = fr->n;
    dispatch_finish(fr->reader.dispatch); /* every queue worked off */
    fr->reader.dispatch = NULL;
    for (unsigned i = 0; i < n; i++) {
        flow_flush_all(&fr->ws[i]);
        detect_flush(&fr->ws[i]);
    }
    bool pcap_ok = pcap_log_finish(st, fr->wp, n);
    struct stats_snapshot sn;
    snapshot(fr->wp, n, false, fr->started, &sn);
    if (st->stats_interval > 0)
        output_stats(&fr->ws[0], &sn);
    uint64_t lost = finish_outputs(fr->view);
    snapshot(fr->wp, n, false, fr->started, &sn);
    if (!st->quiet) {
        if (fr->skipped)
            fprintf(stderr, "rpcsentry: skipped %u files that are not captures\n", fr->skipped);
        char what[96];
        snprintf(what, sizeof what, "%u capture%s read%s%s", fr->done, fr->done == 1 ? "" : "s",
                 fr->failed ? " (some failed)" : "", n > 1 ? " by several workers" : "");
        print_summary(&sn, what);
        print_pcap_log(st, &sn);
    }
    report_outputs(fr->view, st->quiet);
    if (!st->quiet)
        hunt_print_table(hunt, stderr);
    return lost || !pcap_ok ? 3 : fr->failed ? 1 : 0;
}

static void files_teardown(struct files_run *fr)
{
    unsigned n = fr->n;
    /* the rule set in use: a reload may have replaced the first (one worker) */
    struct detect *in_use = n == 1 && fr->set_up ? fr->ws[0].detect : NULL;
    for (unsigned i = 0; i < fr->set_up; i++) {
        fr->ws[i].process_ends = true; /* main returns after the run */
        worker_teardown(&fr->ws[i]);
    }
    if (n == 1) { /* a reload freed the first set and gave the worker the new one */
        detect_free(in_use ? in_use : fr->sh.detect);
        fr->sh.detect = NULL;
    }
    dispatch_finish(fr->reader.dispatch);
    pcap_log_finish(fr->st, fr->wp, 0); /* a run that failed: the file closed */
    if (n > 1)
        output_close(fr->reader.out);
    shared_free(&fr->sh);
    free(fr->ws);
    free(fr->wp);
    capture_free_list(fr->files);
}

int runtime_run_files(const struct run_config *st, struct detect *detect, struct output *out)
{
    loader = st->load_rules;
    run_stop = st->stop;
    struct files_run fr;
    memset(&fr, 0, sizeof fr);
    fr.st = st;
    fr.n = st->file_workers > 1 ? st->file_workers : 1;
    int rc = 1;
    if (files_setup(&fr, detect, out)) {
        fr.started = wall_us();
        bool progress = st->progress == 1 || (st->progress < 0 && !st->quiet && isatty(2));
        struct hunt *hunt = hunt_start(fr.files, progress);
        files_read(&fr, hunt);
        hunt_stop_progress(hunt);
        rc = files_finish(&fr, hunt);
        hunt_free(hunt);
    }
    files_teardown(&fr);
    return rc;
}

/* ---- live capture ---- */

struct live_thread {
    pthread_t tid;
    struct worker w;
    struct live_source *src; /* libpcap */
    struct xdp_source *xsrc; /* or AF_XDP */
    bool failed;
    char err[256];
};

static void *live_thread_main(void *arg)
{
    struct live_thread *t = arg;
    bool ok = t->xsrc ? xdp_run(&t->w, t->xsrc, run_stop, t->err, sizeof t->err)
                      : live_run(&t->w, t->src, run_stop, t->err, sizeof t->err);
    if (!ok) {
        t->failed = true;
        *run_stop = true; /* one worker lost its interface: the sensor stops */
    }
    return NULL;
}

static void xdp_port_learned(struct worker *w, uint16_t port)
{
    xdp_learn_port(w->port_ctx, port);
}

/* A live run: a thread per socket, and this thread supervising them. */
struct live_run {
    const struct run_config *st;
    bool xdp;
    const char *iface;
    struct xdp_iface *xifc;
    unsigned n, opened, set_up;
    struct live_thread *th;
    struct worker **ws;
    struct worker main_w; /* writes the stats records */
    struct runtime_shared sh;
    struct output *out; /* ours until the end; the workers have views */
    uint64_t started;
};

/* Every socket and every worker, before privileges go. */
static bool live_setup(struct live_run *lr, struct detect *detect)
{
    const struct run_config *st = lr->st;
    char err[512];
    bool shared_ok = shared_init(&lr->sh, detect, 0, true, true); /* workers: once known */
    if (lr->xdp) {
        if (st->bpf)
            log_warn("AF_XDP: the BPF filter is not applied (the XDP program chooses)");
        st->xdp->dyn_lo = 49152;
        st->xdp->dyn_hi = 65535;
        if (!(lr->xifc = xdp_attach(st->xdp, err, sizeof err))) {
            log_error("%s", err);
            return false;
        }
    }
    lr->n = lr->xdp ? (unsigned)xdp_queues(lr->xifc)
                    : (unsigned)(st->live->workers > 0 ? st->live->workers : 1);
    st->live->bpf = st->bpf;
    st->live->fanout_group = (int)(getpid() & 0xffff);
    st->live->stop = st->stop;
    lr->sh.workers = lr->n;
    lr->th = calloc(lr->n, sizeof *lr->th);
    lr->ws = calloc(lr->n, sizeof *lr->ws);
    lr->main_w.cfg = st->cfg;
    lr->main_w.out = output_view(lr->out);
    if (!lr->th || !lr->ws || !shared_ok || !lr->main_w.out) {
        log_error("out of memory");
        return false;
    }
    for (; lr->opened < lr->n; lr->opened++) {
        struct live_thread *t = &lr->th[lr->opened];
        if (lr->xdp)
            t->xsrc = xdp_open_queue(lr->xifc, (int)lr->opened, err, sizeof err);
        else
            t->src = live_open(st->live, err, sizeof err);
        if (!t->src && !t->xsrc) {
            log_error("%s", err);
            return false;
        }
    }
    for (; lr->set_up < lr->n; lr->set_up++) {
        /* each worker its own view of the sinks; out itself stays with us until the end */
        struct output *o = output_view(lr->out);
        if (!o ||
            !worker_setup(&lr->th[lr->set_up].w, st->cfg, o, detect, &lr->sh, err, sizeof err)) {
            log_error("%s", o ? err : "out of memory");
            output_close(o);
            return false;
        }
    }
    for (unsigned i = 0; i < lr->n; i++) {
        lr->ws[i] = &lr->th[i].w;
        if (st->pcap_log && !pcap_log_attach(&lr->th[i].w, st->pcap_log)) {
            log_error("out of memory");
            return false;
        }
        if (lr->xdp) {
            lr->th[i].w.on_port_learned = xdp_port_learned;
            lr->th[i].w.port_ctx = lr->xifc;
        }
    }
    if (lr->xdp && st->user && !xdp_spawn_guard(lr->xifc))
        log_warn("AF_XDP: no guard process: once running as %s the XDP program stays on %s "
                 "after the sensor stops, until the next start replaces it",
                 st->user, lr->iface);
    return drop_privileges(st->user, true);
}

/* The worker threads, and the word to systemd and the operator that capture runs. */
static void live_start(struct live_run *lr)
{
    const struct run_config *st = lr->st;
    lr->started = wall_us();
    for (unsigned i = 0; i < lr->n; i++)
        if (pthread_create(&lr->th[i].tid, NULL, live_thread_main, &lr->th[i]) != 0) {
            log_error("cannot start worker %u", i);
            *st->stop = true;
            lr->n = i;
            break;
        }
    char status[256];
    snprintf(status, sizeof status, "READY=1\nSTATUS=capturing on %s (%s) with %u worker%s",
             lr->iface, lr->xdp ? "AF_XDP" : "libpcap", lr->n, lr->n == 1 ? "" : "s");
    notify_systemd(status);
    if (!st->quiet)
        fprintf(stderr, "rpcsentry: capturing on %s (%s%s), %u worker%s, writing to %s\n",
                lr->iface, lr->xdp ? "AF_XDP, " : "libpcap",
                lr->xdp
                    ? (lr->th[0].xsrc && xdp_zero_copy(lr->th[0].xsrc) ? "zero-copy" : "copy mode")
                    : "",
                lr->n, lr->n == 1 ? "" : "s", st->dest);
}

/* SIGHUP: the logs reopened, the rules reloaded and published to the workers. */
static void live_reload(struct live_run *lr)
{
    notify_systemd("RELOADING=1");
    output_reopen(lr->main_w.out);
    unsigned errors = 0;
    struct detect *d = loader(&errors);
    if (!d || errors) {
        log_error("rule reload failed (%u errors): keeping the rules in use", errors);
        detect_free(d);
    } else if (!runtime_publish_rules(&lr->sh, d)) {
        log_warn("rule reload: the previous one is still being adopted; try again");
        detect_free(d);
    } else {
        log_info("rules reloaded: %u rules", detect_rule_count(d));
    }
    notify_systemd("READY=1");
}

/* Until asked to stop: reloads, stats records, the watchdog. */
static void live_supervise(struct live_run *lr, int interval)
{
    const struct run_config *st = lr->st;
    uint64_t watchdog = notify_watchdog_usec();
    uint64_t next_stats = lr->started + (uint64_t)interval * 1000000, last_ping = 0;
    struct stats_snapshot sn;
    while (!*st->stop) {
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
        uint64_t now = wall_us();
        if (*st->hup) {
            *st->hup = 0;
            live_reload(lr);
        }
        runtime_collect(&lr->sh);
        if (interval > 0 && now >= next_stats) {
            snapshot(lr->ws, lr->n, true, lr->started, &sn);
            output_stats(&lr->main_w, &sn);
            next_stats = now + (uint64_t)interval * 1000000;
        }
        if (watchdog && now >= last_ping + watchdog / 2) {
            notify_systemd("WATCHDOG=1");
            last_ping = now;
        }
    }
}

/* The threads joined, what is in flight written, the summary; returns the exit status. */
static int live_finish(struct live_run *lr, int interval)
{
    const struct run_config *st = lr->st;
    int rc = 0;
    notify_systemd("STOPPING=1");
    for (unsigned i = 0; i < lr->n; i++) {
        pthread_join(lr->th[i].tid, NULL);
        if (lr->th[i].failed) {
            log_error("worker %u: %s", i, lr->th[i].err);
            rc = 1;
        }
    }
    /* the last counters, calls in flight written as flows end; then the stories, which all
       workers share live: retired after every worker's flows, or a call that one worker's
       flush ends would find its story already told by another's */
    for (unsigned i = 0; i < lr->n; i++)
        flow_flush_all(&lr->th[i].w);
    for (unsigned i = 0; i < lr->n; i++)
        detect_flush(&lr->th[i].w);
    if (!pcap_log_finish(st, lr->ws, lr->n))
        rc = 3;
    struct stats_snapshot sn;
    snapshot(lr->ws, lr->n, true, lr->started, &sn);
    if (interval > 0)
        output_stats(&lr->main_w, &sn);
    if (finish_outputs(lr->out))
        rc = 3;
    if (!st->quiet) {
        char what[128];
        snprintf(what, sizeof what, "live capture on %s, %u worker%s", lr->iface, lr->n,
                 lr->n == 1 ? "" : "s");
        print_summary(&sn, what);
        print_pcap_log(st, &sn);
    }
    report_outputs(lr->out, st->quiet);
    return rc;
}

static void live_teardown(struct live_run *lr)
{
    for (unsigned i = 0; i < lr->set_up; i++) {
        lr->th[i].w.process_ends = true; /* main returns after the run */
        worker_teardown(&lr->th[i].w);
    }
    pcap_log_finish(lr->st, lr->ws, 0); /* a run that failed: the file closed */
    for (unsigned i = 0; lr->th && i < lr->opened; i++) {
        live_close(lr->th[i].src);
        xdp_close_queue(lr->th[i].xsrc);
    }
    xdp_detach(lr->xifc); /* the program goes with the sockets */
    output_close(lr->out);
    output_close(lr->main_w.out);
    free(lr->th);
    free(lr->ws);
    shared_free(&lr->sh);
}

int runtime_run_live(const struct run_config *st, struct detect *detect, struct output *out)
{
    loader = st->load_rules;
    run_stop = st->stop;
    struct live_run lr;
    memset(&lr, 0, sizeof lr);
    lr.st = st;
    lr.out = out;
    lr.xdp = st->xdp->iface != NULL;
    lr.iface = lr.xdp ? st->xdp->iface : st->live->iface;
    int rc = 1;
    if (live_setup(&lr, detect)) {
        int interval = st->stats_interval < 0 ? 30 : st->stats_interval;
        live_start(&lr);
        live_supervise(&lr, interval);
        rc = live_finish(&lr, interval);
    }
    live_teardown(&lr);
    return rc;
}
