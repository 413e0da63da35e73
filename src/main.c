/*
 * rpcsentry: settings from the configuration file and the command line,
 * then either captures read from files or live capture on an interface with
 * one worker thread per fanout member; signals, stats, a summary.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rpcsentry/appid.h"
#include "rpcsentry/build_config.h"
#include "rpcsentry/capture.h"
#include "rpcsentry/conffile.h"
#include "rpcsentry/config.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/hunt.h"
#include "rpcsentry/log.h"
#include "rpcsentry/notify.h"
#include "rpcsentry/output.h"
#include "rpcsentry/report.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/sink.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

#define MAX_WORKERS 64

/* ---- signals ---- */

static volatile bool stop_requested;
static volatile sig_atomic_t hup_requested;   /* SIGHUP: reopen the logs, reload the rules */
static volatile sig_atomic_t reload_in_file;  /* the same, for a worker reading files */

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = true;
}

static void on_hup(int sig)
{
    (void)sig;
    hup_requested = 1;
    reload_in_file = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART; /* a read from a pipe goes on after it */
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- settings ---- */

struct settings {
    struct config cfg;
    const char **reads;
    size_t nreads;
    const char **rules;
    size_t nrules;
    const char *log_dir;
    bool log_dir_set;           /* -l or log-dir given: eve.json kept beside -o outputs */
    const char *sensor_name;
    unsigned output_wait;       /* seconds; 0: the default */
    const char **outputs;       /* -o specs */
    size_t noutputs;
    enum output_format format;
    const char *syslog_target, *syslog_tag;
    size_t queue_cap;
    const char *filter_file;
    const char *config_file;
    const char *user;
    bool quiet, test_rules, default_rules, alert_refs, systemd_dropin;
    bool separate;              /* --separate-captures */
    int progress;               /* -1: when stderr is a terminal */
    struct live_opts live;
    struct xdp_opts xdp;
    int stats_interval;         /* seconds; -1: the default for the mode */
    char *strings[256];         /* values kept from the configuration file */
    size_t nstrings;
};

enum opt_id {
    O_READ = 'r', O_IFACE = 'i', O_LOGDIR = 'l', O_FILTER = 'F', O_RULES = 'S', O_CONFIG = 'c',
    O_QUIET = 'q', O_VERBOSE = 'v', O_VERSION = 'V', O_HELP = 'h', O_OUTPUT = 'o',
    O_CHECKSUM = 'k',
    O_COMPAT = 1000, O_NO_BINDS, O_MEMCAP, O_TEST_RULES, O_NO_DEFAULT_RULES, O_ALERT_REFS,
    O_ALERT_EACH_DIR, O_NO_NDPI, O_FLOW_RECORDS, O_WORKERS, O_SNAPLEN, O_BUFFER, O_NO_PROMISC,
    O_STATS_INTERVAL, O_USER, O_FLOW_MAX, O_EPM_TTL, O_TCP_TIMEOUT, O_STUB_MAX, O_AF_XDP,
    O_XDP_NATIVE, O_XDP_PASS, O_XDP_FRAMES, O_XDP_QUEUES, O_FORMAT, O_SYSLOG_TARGET,
    O_SYSLOG_TAG, O_OUTPUT_QUEUE, O_PROGRESS, O_NO_PROGRESS, O_OUTPUT_WAIT, O_SENSOR_NAME,
    O_SYSTEMD_DROPIN, O_SEPARATE,
};

/* One table for getopt and the configuration file: keys are the long names. */
static const struct optdef {
    const char *name;
    int id;
    bool arg;
    bool in_file;  /* may be set in the configuration file */
    const char *argname, *help;
} opts[] = {
    {"read", O_READ, true, true, "FILE|DIR",
     "capture to read (pcap or pcapng; '-' = stdin); a directory\n"
     "means every capture in it, in name order. Repeatable."},
    {"interface", O_IFACE, true, true, "IFACE", "capture live on IFACE (libpcap)"},
    {"af-xdp", O_AF_XDP, true, true, "IFACE",
     "capture live on IFACE with AF_XDP: our XDP program passes\n"
     "only RPC traffic, one socket and worker per receive queue"},
    {"xdp-native", O_XDP_NATIVE, false, true, NULL,
     "AF_XDP: attach in driver mode (default: generic mode)"},
    {"xdp-pass", O_XDP_PASS, false, true, NULL,
     "AF_XDP: pass other traffic on to the kernel (default: drop,\n"
     "as on a pure monitoring port)"},
    {"xdp-frames", O_XDP_FRAMES, true, true, "N", "AF_XDP: UMEM frames per queue (4096 x 4 KiB)"},
    {"xdp-queues", O_XDP_QUEUES, true, true, "N", "AF_XDP: receive queues to read (default: all)"},
    {"log-dir", O_LOGDIR, true, true, "DIR",
     "write DIR/eve.json (default: current directory); '-' = stdout"},
    {"output", O_OUTPUT, true, true, "SPEC",
     "write records to SPEC as well (DIR/eve.json is kept when -l\n"
     "names a directory; without -l, only the -o outputs); repeatable:\n"
     "-  file:PATH  unix:PATH  unix-dgram:PATH  syslog[:FACILITY]\n"
     "redis://HOST:PORT/list/KEY  redis://HOST:PORT/channel/NAME\n"
     "each may end in ?types=alert,dcerpc,anomaly,lateral_movement,\n"
     "flow,stats (default: every type)"},
    {"format", O_FORMAT, true, true, "FORMAT",
     "eve (default); eve-compat (as --compat); zeek: Zeek's\n"
     "dce_rpc.log as JSON lines, with community_id; zeek-tsv:\n"
     "the same as Zeek's tab-separated text. Zeek's log has\n"
     "calls only, written to DIR/dce_rpc.log or the -o outputs"},
    {"syslog-target", O_SYSLOG_TARGET, true, true, "PATH|[udp:|tcp:]HOST:PORT",
     "where syslog outputs send: a local socket (default /dev/log;\n"
     "RFC 3164, as syslog(3)), or HOST:PORT over UDP, or over TCP\n"
     "with tcp:HOST:PORT (RFC 5424, MSGID = event_type)"},
    {"syslog-tag", O_SYSLOG_TAG, true, true, "TAG", "syslog APP-NAME (default rpcsentry)"},
    {"output-queue", O_OUTPUT_QUEUE, true, true, "BYTES",
     "queue per socket/syslog/redis output (default 16M); live,\n"
     "records that find it full are dropped and counted; reading\n"
     "files, the reader waits"},
    {"output-wait", O_OUTPUT_WAIT, true, true, "SECONDS",
     "reading files: an output that takes nothing for this long\n"
     "(peer away, not reading) has failed: the run stops (default 30)"},
    {"systemd-dropin", O_SYSTEMD_DROPIN, false, false, NULL,
     "print the drop-in rpcsentry@.service needs for the network\n"
     "outputs configured (IP sockets, IPAddressAllow= their peers)\n"
     "and exit"},
    {"sensor-name", O_SENSOR_NAME, true, true, "NAME",
     "written as \"host\" in every record (default: the host name)"},
    {"progress", O_PROGRESS, false, true, NULL,
     "reading files: a progress line on stderr (default when\n"
     "stderr is a terminal)"},
    {"no-progress", O_NO_PROGRESS, false, true, NULL, "no progress line"},
    {"filter-file", O_FILTER, true, true, "FILE", "read the BPF filter expression from FILE"},
    {"rules", O_RULES, true, true, "FILE|DIR",
     "add a rule file (or every .rules file of a directory);\n"
     "repeatable; the default rule set is always loaded first"},
    {"config", O_CONFIG, true, false, "FILE",
     "read settings from FILE (YAML: the long option names as keys)"},
    {"no-default-rules", O_NO_DEFAULT_RULES, false, true, NULL, "load only the -S rules"},
    {"test-rules", O_TEST_RULES, false, false, NULL,
     "check the rule files, report errors as file:line, and exit"},
    {"alert-references", O_ALERT_REFS, false, true, NULL,
     "write each alert's rule references as URLs\n"
     "(Suricata's metadata.rule.reference; off by default)"},
    {"alert-each-direction", O_ALERT_EACH_DIR, false, true, NULL,
     "a rule that matches a call's request and its response\n"
     "alerts on both, as Suricata does (default: once per call)"},
    {"compat", O_COMPAT, false, true, NULL,
     "Suricata-compatible records: no rpcsentry extension object"},
    {"no-bind-records", O_NO_BINDS, false, true, NULL,
     "do not write bind/alter_context exchanges"},
    {"flow-records", O_FLOW_RECORDS, false, true, NULL,
     "write a `flow` record for every flow when it ends"},
    {"no-ndpi", O_NO_NDPI, false, true, NULL, "do not identify flows with nDPI"},
    {"checksum-checks", O_CHECKSUM, true, true, "auto|all|none",
     "none (default): every packet is used; auto: a TCP segment\n"
     "of a flow being decoded with a wrong checksum is dropped\n"
     "when its sender has sent right ones (offload spoils them\n"
     "all, a decoy only some); all: every packet with a wrong\n"
     "IPv4/TCP/UDP checksum is dropped, as Suricata's -k all"},
    {"memcap", O_MEMCAP, true, true, "BYTES",
     "global cap on buffered state (default 192M; k/M/G suffixes)"},
    {"separate-captures", O_SEPARATE, false, true, NULL,
     "reading several captures: nothing learnt in one (endpoint-\n"
     "mapper answers, SMB sessions) is used in the next, each\n"
     "gives the records of reading it alone (default: carried\n"
     "over, for the pieces of one rotated capture)"},
    {"workers", O_WORKERS, true, true, "N",
     "worker threads: live, sharing the interface (PACKET_FANOUT_HASH);\n"
     "reading files, each flow's packets to one of them (default 1)"},
    {"snaplen", O_SNAPLEN, true, true, "BYTES", "live capture: bytes kept per frame (65535)"},
    {"buffer-size", O_BUFFER, true, true, "MiB", "live capture: kernel buffer per worker (64)"},
    {"no-promisc", O_NO_PROMISC, false, true, NULL,
     "live capture: do not put the interface in promiscuous mode"},
    {"stats-interval", O_STATS_INTERVAL, true, true, "SECONDS",
     "write a `stats` record this often (live default 30;\n"
     "files: 0 = none, else one more at the end)"},
    {"user", O_USER, true, true, "USER",
     "after opening the capture and the logs, run as USER\n"
     "(no capabilities kept)"},
    {"flow-max", O_FLOW_MAX, true, true, "N", "flows tracked at most (1048576)"},
    {"flow-timeout", O_TCP_TIMEOUT, true, true, "SECONDS",
     "idle seconds before an established TCP flow ends (600)"},
    {"stub-max", O_STUB_MAX, true, true, "BYTES", "stub bytes kept per call (1M)"},
    {"epm-ttl", O_EPM_TTL, true, true, "SECONDS",
     "how long an endpoint-mapper answer names its port (3600)"},
    {"quiet", O_QUIET, false, true, NULL, "no summary on stderr"},
    {"verbose", O_VERBOSE, false, true, NULL, "more messages on stderr"},
    {"version", O_VERSION, false, false, NULL, "print the version"},
    {"help", O_HELP, false, false, NULL, "this help"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: rpcsentry -r FILE|DIR [-r ...] [-l DIR] [options] [BPF expression]\n"
               "       rpcsentry -i IFACE [-l DIR] [options] [BPF expression]\n"
               "       rpcsentry report EVE_FILE...   (who changed which task or service where)\n"
               "\n"
               "Watches DCE/RPC for remote scheduled-task and service creation and writes\n"
               "Suricata-style EVE JSON.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char head[64];
        if (opts[i].id < 256)
            snprintf(head, sizeof head, "  -%c, --%s%s%s", opts[i].id, opts[i].name,
                     opts[i].arg ? " " : "", opts[i].arg ? opts[i].argname : "");
        else
            snprintf(head, sizeof head, "      --%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                     opts[i].arg ? opts[i].argname : "");
        fprintf(f, "%-24s", head);
        if (strlen(head) >= 24)
            fprintf(f, "\n%24s", "");
        for (const char *p = opts[i].help; *p; p++) {
            fputc(*p, f);
            if (*p == '\n')
                fprintf(f, "%24s", "");
        }
        fputc('\n', f);
    }
    fprintf(f, "\nTrailing arguments form a BPF filter expression, as with tcpdump.\n"
               "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reopens the log and reloads the rules.\n"
               "Exit status: 0 on success (truncated captures are warned about), 1 when a\n"
               "capture is missing, unreadable or corrupt, 2 on usage errors.\n");
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return false;
    switch (*end) {
    case 'k': case 'K': v <<= 10, end++; break;
    case 'm': case 'M': v <<= 20, end++; break;
    case 'g': case 'G': v <<= 30, end++; break;
    default: break;
    }
    if (*end)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A flag's value from the configuration file (from the command line it is always true). */
static bool parse_flag(const char *v, bool *out)
{
    if (!v || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
        return *out = true, true;
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
        return *out = false, true;
    return false;
}

/*
 * Applies one option. Returns 0, or 2 with a message printed (where says
 * where it came from: "--name" or "file:line").
 */
static int apply(struct settings *st, const struct optdef *o, const char *v, const char *where)
{
    bool on = true;
    long n;
    size_t sz;
    if (!o->arg && !parse_flag(v, &on)) {
        log_error("%s: %s takes true or false", where, o->name);
        return 2;
    }
    switch (o->id) {
    case O_READ: st->reads[st->nreads++] = v; break;
    case O_RULES: st->rules[st->nrules++] = v; break;
    case O_IFACE: st->live.iface = v; break;
    case O_AF_XDP: st->xdp.iface = v; break;
    case O_XDP_NATIVE: st->xdp.native = on; break;
    case O_XDP_PASS: st->xdp.pass_others = on; break;
    case O_LOGDIR:
        st->log_dir = v;
        st->log_dir_set = true;
        break;
    case O_SENSOR_NAME: st->sensor_name = v; break;
    case O_SYSTEMD_DROPIN: st->systemd_dropin = on; break;
    case O_OUTPUT: st->outputs[st->noutputs++] = v; break;
    case O_SYSLOG_TARGET: st->syslog_target = v; break;
    case O_SYSLOG_TAG: st->syslog_tag = v; break;
    case O_PROGRESS: st->progress = on ? 1 : 0; break;
    case O_NO_PROGRESS: st->progress = on ? 0 : 1; break;
    case O_FORMAT:
        if (!strcmp(v, "eve")) {
            st->format = FORMAT_EVE;
        } else if (!strcmp(v, "eve-compat")) {
            st->format = FORMAT_EVE;
            st->cfg.compat = true;
        } else if (!strcmp(v, "zeek")) {
            st->format = FORMAT_ZEEK;
        } else if (!strcmp(v, "zeek-tsv")) {
            st->format = FORMAT_ZEEK_TSV;
        } else {
            log_error("%s: format: eve, eve-compat, zeek or zeek-tsv, not %s", where, v);
            return 2;
        }
        break;
    case O_FILTER: st->filter_file = v; break;
    case O_CONFIG: st->config_file = v; break;
    case O_USER: st->user = v; break;
    case O_NO_DEFAULT_RULES: st->default_rules = !on; break;
    case O_TEST_RULES: st->test_rules = on; break;
    case O_ALERT_REFS: st->alert_refs = on; break;
    case O_ALERT_EACH_DIR: st->cfg.alert_each_direction = on; break;
    case O_COMPAT: st->cfg.compat = on; break;
    case O_NO_BINDS: st->cfg.log_binds = !on; break;
    case O_FLOW_RECORDS: st->cfg.log_flows = on; break;
    case O_NO_NDPI: st->cfg.ndpi = !on; break;
    case O_CHECKSUM:
        if (!strcmp(v, "auto"))
            st->cfg.checksum_checks = CHECKSUM_AUTO;
        else if (!strcmp(v, "all") || !strcmp(v, "yes"))
            st->cfg.checksum_checks = CHECKSUM_ALL;
        else if (!strcmp(v, "none") || !strcmp(v, "no"))
            st->cfg.checksum_checks = CHECKSUM_NONE;
        else {
            log_error("%s: checksum-checks takes auto, all or none, not '%s'", where, v);
            return 2;
        }
        break;
    case O_NO_PROMISC: st->live.promisc = !on; break;
    case O_QUIET: st->quiet = on; break;
    case O_SEPARATE: st->separate = on; break;
    case O_VERBOSE:
        if (on)
            log_threshold = log_threshold < LOG_DEBUG ? log_threshold + 1 : LOG_DEBUG;
        break;
    case O_MEMCAP:
    case O_STUB_MAX:
    case O_OUTPUT_QUEUE:
        if (!parse_size(v, &sz) || sz == 0) {
            log_error("%s: %s: not a size: %s", where, o->name, v);
            return 2;
        }
        if (o->id == O_MEMCAP)
            st->cfg.memcap = sz;
        else if (o->id == O_OUTPUT_QUEUE)
            st->queue_cap = sz;
        else
            st->cfg.dce_stub_max = (uint32_t)(sz > UINT32_MAX ? UINT32_MAX : sz);
        break;
    case O_WORKERS:
    case O_SNAPLEN:
    case O_BUFFER:
    case O_STATS_INTERVAL:
    case O_FLOW_MAX:
    case O_EPM_TTL:
    case O_XDP_FRAMES:
    case O_XDP_QUEUES:
    case O_OUTPUT_WAIT:
    case O_TCP_TIMEOUT: {
        long lo = o->id == O_STATS_INTERVAL ? 0 : 1;
        long hi = o->id == O_WORKERS || o->id == O_XDP_QUEUES ? MAX_WORKERS
                  : o->id == O_SNAPLEN                        ? 262144
                                                              : INT32_MAX;
        if (!parse_num(v, lo, hi, &n)) {
            log_error("%s: %s: a number from %ld to %ld, not %s", where, o->name, lo, hi, v);
            return 2;
        }
        if (o->id == O_WORKERS)
            st->live.workers = (int)n;
        else if (o->id == O_SNAPLEN)
            st->live.snaplen = (int)n;
        else if (o->id == O_BUFFER)
            st->live.buffer_mb = (int)n;
        else if (o->id == O_STATS_INTERVAL)
            st->stats_interval = (int)n;
        else if (o->id == O_FLOW_MAX)
            st->cfg.flow_max = (uint32_t)n;
        else if (o->id == O_EPM_TTL)
            st->cfg.epm_ttl = (uint32_t)n;
        else if (o->id == O_XDP_FRAMES)
            st->xdp.frames = (uint32_t)n;
        else if (o->id == O_XDP_QUEUES)
            st->xdp.queues = (int)n;
        else if (o->id == O_OUTPUT_WAIT)
            st->output_wait = (unsigned)n;
        else
            st->cfg.tcp_timeout_est = (uint32_t)n;
        break;
    }
    default: break;
    }
    return 0;
}

static const struct optdef *opt_by_id(int id)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].id == id)
            return &opts[i];
    return NULL;
}

static int apply_file(struct settings *st)
{
    struct conf_file cf;
    char err[600];
    if (!conf_file_read(st->config_file, &cf, err, sizeof err)) {
        log_error("%s", err);
        return 2;
    }
    int rc = 0;
    for (size_t i = 0; i < cf.n && !rc; i++) {
        const struct optdef *o = NULL;
        for (size_t k = 0; k < N_OPTS; k++)
            if (strcmp(opts[k].name, cf.pairs[i].key) == 0)
                o = &opts[k];
        char where[512];
        snprintf(where, sizeof where, "%s:%u", st->config_file, cf.pairs[i].line);
        if (!o || !o->in_file) {
            log_error("%s: %s is not a setting%s", where, cf.pairs[i].key,
                      o ? " of the configuration file" : "");
            rc = 2;
            break;
        }
        if (st->nstrings >= sizeof st->strings / sizeof st->strings[0]) {
            log_error("%s: too many settings", where);
            rc = 2;
            break;
        }
        /* the value outlives the parsed file: the settings point at it */
        char *v = strdup(cf.pairs[i].value);
        st->strings[st->nstrings++] = v;
        rc = apply(st, o, v, where);
    }
    conf_file_free(&cf);
    return rc;
}

/* ---- helpers ---- */

static void report_rule_error(const char *msg)
{
    log_error("%s", msg);
}

static char *read_filter_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    int ch;
    while (s && (ch = fgetc(f)) != EOF) {
        if (n + 2 > cap) {
            char *p = realloc(s, cap *= 2);
            if (!p) {
                free(s);
                s = NULL;
                break;
            }
            s = p;
        }
        s[n++] = ch == '\n' || ch == '\r' || ch == '\t' ? ' ' : (char)ch;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = calloc(1, len);
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

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
    }
    out->uptime_s = started_us && out->ts_us > started_us ? (out->ts_us - started_us) / 1000000
                                                          : 0;
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
        fprintf(stderr, "rpcsentry: kernel: %llu packets received, %llu dropped, %llu dropped by "
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
            "decode: %llu truncated, %llu invalid, %llu IP fragments, %llu IP lengths fixed\n",
            (unsigned long long)s->tcp_gaps, (unsigned long long)s->tcp_out_of_order,
            (unsigned long long)s->tcp_overlaps, (unsigned long long)s->decode_truncated,
            (unsigned long long)s->decode_invalid, (unsigned long long)s->decode_ip_fragment,
            (unsigned long long)s->decode_ip_len_fixed);
    if (s->decode_bad_checksum)
        fprintf(stderr, "rpcsentry: %llu packets dropped for a wrong checksum\n",
                (unsigned long long)s->decode_bad_checksum);
    fprintf(stderr, "rpcsentry: peak memory accounted %zu bytes\n", sn->mem_peak);
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
                  "status 3", (unsigned long long)lost);
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

static struct {
    bool include_default;
    const char *const *files;
    size_t n;
} rule_sources;

static struct detect *load_rules(unsigned *errors)
{
    return detect_load(rule_sources.include_default, rule_sources.files, rule_sources.n,
                       report_rule_error, errors);
}

/*
 * A reload for the worker reading files, between two packets. If any rule
 * fails, the rules in use stay, as Suricata does on a failed reload.
 */
static void reload_in_worker(struct worker *w)
{
    output_reopen(w->out);
    unsigned errors = 0;
    struct detect *d = load_rules(&errors);
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
    struct detect *d = load_rules(&errors);
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

static int run_files(struct settings *st, struct detect *detect, struct output *out,
                     const char *bpf, const char *dest)
{
    char err[512];
    unsigned n = st->live.workers > 1 ? (unsigned)st->live.workers : 1;
    struct capture_input *files = capture_expand(st->reads, st->nreads, err, sizeof err);
    struct worker *ws = calloc(n, sizeof *ws);
    struct worker **wp = calloc(n, sizeof *wp);
    struct runtime_shared sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.lock, NULL);
    sh.detect = detect;
    sh.workers = n;
    struct worker reader; /* several workers: the thread that reads and hands over */
    memset(&reader, 0, sizeof reader);
    reader.cfg = &st->cfg;
    unsigned set_up = 0;
    int rc = 0;
    if (!files || !ws || !wp ||
        (n > 1 && !(sh.epm = epm_table_new_shared()))) {
        log_error("%s", files ? "out of memory" : err);
        rc = 1;
        goto done;
    }
    for (; set_up < n; set_up++) {
        /* one worker writes straight to out; several each through a view of its sinks */
        struct output *o = n == 1 ? out : output_view(out);
        if (!o || !worker_setup(&ws[set_up], &st->cfg, o, detect, n > 1 ? &sh : NULL, err,
                                sizeof err)) {
            log_error("%s", o ? err : "out of memory");
            if (n > 1)
                output_close(o);
            rc = 1;
            goto done;
        }
        wp[set_up] = &ws[set_up];
    }
    struct output *view = out; /* for the summary: lives until the workers are torn down */
    if (n == 1) {
        out = NULL; /* the worker owns it */
        ws[0].reload_requested = &reload_in_file;
        ws[0].reload = reload_in_worker;
    } else {
        reader.out = out;
        reader.shared = &sh;
        reader.reload_requested = &reload_in_file;
        reader.reload = reload_publish;
    }
    if (!drop_privileges(st->user, false)) {
        rc = 1;
        goto done;
    }
    struct worker *rd = &ws[0];
    if (n > 1) {
        if (!(reader.dispatch = dispatch_start(wp, n))) {
            log_error("out of memory");
            rc = 1;
            goto done;
        }
        rd = &reader;
    }
    uint64_t started = wall_us();
    unsigned done = 0, failed = 0, skipped = 0;
    bool progress = st->progress == 1 || (st->progress < 0 && !st->quiet && isatty(2));
    struct hunt *hunt = hunt_start(files, progress);
    for (struct capture_input *f = files; f->path && !stop_requested; f++) {
        struct capture_result res;
        hunt_file_begin(hunt, (size_t)(f - files));
        capture_file(rd, f->path, bpf, &stop_requested, &res);
        if (n == 1)
            detect_flush(rd); /* stories end with their capture, as flows do */
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
                transport_forget(&ws[i]);
        enum hunt_outcome outcome = HUNT_READ;
        switch (res.status) {
        case CAPTURE_OK:
            done++;
            break;
        case CAPTURE_TRUNCATED:
            done++;
            hunt_stop_progress(hunt); /* messages on lines of their own */
            log_warn("%s", res.message);
            break;
        case CAPTURE_NOT_CAPTURE:
            if (f->from_dir) {
                skipped++;
                outcome = HUNT_SKIPPED;
                log_info("skipping %s", res.message);
                break;
            }
            /* a file named on its own must be a capture */
            __attribute__((fallthrough));
        case CAPTURE_ERROR:
        case CAPTURE_BAD_FILTER:
            failed++;
            outcome = HUNT_FAILED;
            hunt_stop_progress(hunt);
            log_error("%s", res.message);
            break;
        }
        /* the workers are idle between captures (the dispatch waits for them): count */
        struct stats_snapshot now;
        snapshot(wp, n, false, started, &now);
        hunt_file_end(hunt, (size_t)(f - files), &now.s, outcome);
        if (res.status == CAPTURE_BAD_FILTER)
            break; /* the same expression fails on every file */
    }
    hunt_stop_progress(hunt);
    dispatch_finish(reader.dispatch); /* every queue worked off */
    reader.dispatch = NULL;
    struct stats_snapshot sn;
    for (unsigned i = 0; i < n; i++) {
        flow_flush_all(&ws[i]);
        detect_flush(&ws[i]);
    }
    snapshot(wp, n, false, started, &sn);
    if (st->stats_interval > 0)
        output_stats(&ws[0], &sn);
    uint64_t lost = finish_outputs(view);
    snapshot(wp, n, false, started, &sn);
    if (!st->quiet) {
        if (skipped)
            fprintf(stderr, "rpcsentry: skipped %u files that are not captures\n", skipped);
        char what[96];
        snprintf(what, sizeof what, "%u capture%s read%s%s", done, done == 1 ? "" : "s",
                 failed ? " (some failed)" : "", n > 1 ? " by several workers" : "");
        print_summary(&sn, what);
    }
    report_outputs(view, st->quiet);
    if (!st->quiet)
        hunt_print_table(hunt, stderr);
    hunt_free(hunt);
    rc = lost ? 3 : failed ? 1 : 0;
done:;
    /* the rule set in use: a reload may have replaced the first */
    struct detect *in_use = n == 1 && set_up ? ws[0].detect : NULL;
    for (unsigned i = 0; i < set_up; i++)
        worker_teardown(&ws[i]);
    if (n == 1) {
        detect_free(in_use ? in_use : detect);
    } else {
        runtime_collect(&sh);
        detect_free(sh.retired);
        detect_free(sh.detect);
    }
    output_close(out);
    epm_table_free_shared(sh.epm);
    story_table_free_shared(sh.stories);
    pthread_mutex_destroy(&sh.lock);
    free(ws);
    free(wp);
    capture_free_list(files);
    return rc;
}

/* ---- live capture ---- */

struct live_thread {
    pthread_t tid;
    struct worker w;
    struct live_source *src;   /* libpcap */
    struct xdp_source *xsrc;   /* or AF_XDP */
    bool failed;
    char err[256];
};

static void *live_thread_main(void *arg)
{
    struct live_thread *t = arg;
    bool ok = t->xsrc ? xdp_run(&t->w, t->xsrc, &stop_requested, t->err, sizeof t->err)
                      : live_run(&t->w, t->src, &stop_requested, t->err, sizeof t->err);
    if (!ok) {
        t->failed = true;
        stop_requested = true; /* one worker lost its interface: the sensor stops */
    }
    return NULL;
}

static void xdp_port_learned(struct worker *w, uint16_t port)
{
    xdp_learn_port(w->port_ctx, port);
}

static int run_live(struct settings *st, struct detect *detect, struct output *out,
                    const char *bpf, const char *dest)
{
    char err[512];
    bool xdp = st->xdp.iface != NULL;
    const char *iface = xdp ? st->xdp.iface : st->live.iface;
    struct xdp_iface *xifc = NULL;
    if (xdp) {
        if (bpf)
            log_warn("AF_XDP: the BPF filter is not applied (the XDP program chooses)");
        st->xdp.dyn_lo = 49152;
        st->xdp.dyn_hi = 65535;
        xifc = xdp_attach(&st->xdp, err, sizeof err);
        if (!xifc) {
            log_error("%s", err);
            detect_free(detect);
            output_close(out);
            return 1;
        }
    }
    unsigned n = xdp ? (unsigned)xdp_queues(xifc)
                     : (unsigned)(st->live.workers > 0 ? st->live.workers : 1);
    st->live.bpf = bpf;
    st->live.fanout_group = (int)(getpid() & 0xffff);
    st->live.stop = &stop_requested;
    struct runtime_shared sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.lock, NULL);
    sh.detect = detect;
    sh.workers = n;
    sh.epm = epm_table_new_shared();
    sh.stories = story_table_new_shared();
    struct live_thread *th = calloc(n, sizeof *th);
    struct worker **ws = calloc(n, sizeof *ws);
    /* the stats record needs a worker of its own to write with */
    struct worker main_w;
    memset(&main_w, 0, sizeof main_w);
    main_w.cfg = &st->cfg;
    main_w.out = output_view(out);
    int rc = 0;
    unsigned opened = 0, set_up = 0;
    if (!th || !ws || !sh.epm || !sh.stories || !main_w.out) {
        log_error("out of memory");
        rc = 1;
        goto done;
    }
    /* every socket and file before privileges go */
    for (; opened < n; opened++) {
        if (xdp)
            th[opened].xsrc = xdp_open_queue(xifc, (int)opened, err, sizeof err);
        else
            th[opened].src = live_open(&st->live, err, sizeof err);
        if (!th[opened].src && !th[opened].xsrc) {
            log_error("%s", err);
            rc = 1;
            goto done;
        }
    }
    for (; set_up < n; set_up++) {
        /* each worker its own view of the sinks; out itself stays with us until the end */
        struct output *o = output_view(out);
        if (!o || !worker_setup(&th[set_up].w, &st->cfg, o, detect, &sh, err, sizeof err)) {
            log_error("%s", o ? err : "out of memory");
            output_close(o);
            rc = 1;
            goto done;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        ws[i] = &th[i].w;
        if (xdp) {
            th[i].w.on_port_learned = xdp_port_learned;
            th[i].w.port_ctx = xifc;
        }
    }
    if (xdp && st->user && !xdp_spawn_guard(xifc))
        log_warn("AF_XDP: no guard process: once running as %s the XDP program stays on %s "
                 "after the sensor stops, until the next start replaces it", st->user, iface);
    if (!drop_privileges(st->user, true)) {
        rc = 1;
        goto done;
    }
    uint64_t started = wall_us();
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&th[i].tid, NULL, live_thread_main, &th[i]) != 0) {
            log_error("cannot start worker %u", i);
            stop_requested = true;
            n = i;
            break;
        }
    char status[256];
    snprintf(status, sizeof status, "READY=1\nSTATUS=capturing on %s (%s) with %u worker%s",
             iface, xdp ? "AF_XDP" : "libpcap", n, n == 1 ? "" : "s");
    notify_systemd(status);
    if (!st->quiet)
        fprintf(stderr, "rpcsentry: capturing on %s (%s%s), %u worker%s, writing to %s\n",
                iface, xdp ? "AF_XDP, " : "libpcap",
                xdp ? (th[0].xsrc && xdp_zero_copy(th[0].xsrc) ? "zero-copy" : "copy mode") : "",
                n, n == 1 ? "" : "s", dest);
    int interval = st->stats_interval < 0 ? 30 : st->stats_interval;
    uint64_t watchdog = notify_watchdog_usec();
    uint64_t next_stats = started + (uint64_t)interval * 1000000, last_ping = 0;
    struct stats_snapshot sn;
    while (!stop_requested) {
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
        uint64_t now = wall_us();
        if (hup_requested) {
            hup_requested = 0;
            notify_systemd("RELOADING=1");
            output_reopen(main_w.out);
            unsigned errors = 0;
            struct detect *d = load_rules(&errors);
            if (!d || errors) {
                log_error("rule reload failed (%u errors): keeping the rules in use", errors);
                detect_free(d);
            } else if (!runtime_publish_rules(&sh, d)) {
                log_warn("rule reload: the previous one is still being adopted; try again");
                detect_free(d);
            } else {
                log_info("rules reloaded: %u rules", detect_rule_count(d));
            }
            notify_systemd("READY=1");
        }
        runtime_collect(&sh);
        if (interval > 0 && now >= next_stats) {
            snapshot(ws, n, true, started, &sn);
            output_stats(&main_w, &sn);
            next_stats = now + (uint64_t)interval * 1000000;
        }
        if (watchdog && now >= last_ping + watchdog / 2) {
            notify_systemd("WATCHDOG=1");
            last_ping = now;
        }
    }
    notify_systemd("STOPPING=1");
    for (unsigned i = 0; i < n; i++) {
        pthread_join(th[i].tid, NULL);
        if (th[i].failed) {
            log_error("worker %u: %s", i, th[i].err);
            rc = 1;
        }
    }
    /* the last counters, calls in flight written as flows end */
    for (unsigned i = 0; i < n; i++) {
        flow_flush_all(&th[i].w);
        detect_flush(&th[i].w);
    }
    snapshot(ws, n, true, started, &sn);
    if (interval > 0)
        output_stats(&main_w, &sn);
    if (finish_outputs(out))
        rc = 3;
    if (!st->quiet) {
        char what[128];
        snprintf(what, sizeof what, "live capture on %s, %u worker%s", iface, n,
                 n == 1 ? "" : "s");
        print_summary(&sn, what);
    }
    report_outputs(out, st->quiet);
done:
    for (unsigned i = 0; i < set_up; i++)
        worker_teardown(&th[i].w);
    for (unsigned i = 0; th && i < opened; i++) {
        live_close(th[i].src);
        xdp_close_queue(th[i].xsrc);
    }
    xdp_detach(xifc); /* the program goes with the sockets */
    output_close(out);
    output_close(main_w.out);
    free(th);
    free(ws);
    runtime_collect(&sh);
    detect_free(sh.retired);
    detect_free(sh.detect);
    epm_table_free_shared(sh.epm);
    story_table_free_shared(sh.stories);
    pthread_mutex_destroy(&sh.lock);
    return rc;
}

/* ---- the systemd drop-in for network outputs ---- */

/*
 * rpcsentry@.service allows no IP socket (RestrictAddressFamilies=,
 * IPAddressDeny=any): the outputs that reach a Redis or syslog server over
 * IP need both opened, for their peers only. Prints that drop-in for the
 * outputs the settings name, each peer resolved now.
 */
static int print_systemd_dropin(const struct settings *st)
{
    char addrs[64][INET6_ADDRSTRLEN + 4];
    size_t n = 0, peers = 0;
    for (size_t i = 0; i < st->noutputs; i++) {
        char host[256], port[16];
        if (!sink_spec_ip_peer(st->outputs[i], st->syslog_target, host, sizeof host, port,
                               sizeof port))
            continue;
        peers++;
        struct addrinfo hints = {.ai_family = AF_UNSPEC}, *ai = NULL;
        int e = getaddrinfo(host, port, &hints, &ai);
        if (e != 0) {
            log_error("%s: cannot resolve %s: %s", st->outputs[i], host, gai_strerror(e));
            return 1;
        }
        for (struct addrinfo *a = ai; a && n < 64; a = a->ai_next) {
            char txt[INET6_ADDRSTRLEN];
            const void *p = a->ai_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            if (!inet_ntop(a->ai_family, p, txt, sizeof txt))
                continue;
            char cidr[sizeof addrs[0]];
            snprintf(cidr, sizeof cidr, "%s/%d", txt, a->ai_family == AF_INET ? 32 : 128);
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp(addrs[k], cidr) == 0;
            if (!dup)
                snprintf(addrs[n++], sizeof addrs[0], "%s", cidr);
        }
        freeaddrinfo(ai);
    }
    printf("# rpcsentry@.service drop-in for the network outputs of %s,\n"
           "# written by `rpcsentry --systemd-dropin`. Install it as\n"
           "#   /etc/systemd/system/rpcsentry@.service.d/outputs.conf\n"
           "# then `systemctl daemon-reload`. Write it again when the outputs change.\n",
           st->config_file ? st->config_file : "the command line");
    if (!peers) {
        printf("# No output reaches an IP peer: the unit needs no drop-in.\n");
        return 0;
    }
    printf("[Service]\n"
           "# Redis and syslog over IP: Internet sockets, to these peers only (IPAddressDeny=any\n"
           "# of the unit stays for every other address)\n"
           "RestrictAddressFamilies=AF_UNIX AF_PACKET AF_NETLINK AF_INET AF_INET6\n"
           "IPAddressAllow=");
    for (size_t k = 0; k < n; k++)
        printf("%s%s", k ? " " : "", addrs[k]);
    printf("\n");
    return 0;
}

/* ---- main ---- */

static int run_sensor(int argc, char **argv, struct settings *st)
{
    struct option longopts[N_OPTS + 1];
    char shortopts[64] = "+";
    for (size_t i = 0; i < N_OPTS; i++) {
        longopts[i] = (struct option){opts[i].name, opts[i].arg ? required_argument : no_argument,
                                      NULL, opts[i].id};
        if (opts[i].id < 256) {
            size_t k = strlen(shortopts);
            shortopts[k] = (char)opts[i].id;
            if (opts[i].arg)
                shortopts[++k] = ':';
            shortopts[k + 1] = '\0';
        }
    }
    longopts[N_OPTS] = (struct option){NULL, 0, NULL, 0};

    /* first pass: only --config, --help, --version; then the file; then the command line */
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (opt == O_CONFIG)
            st->config_file = optarg;
        else if (opt == O_VERSION) {
            printf("rpcsentry %s\n", RS_VERSION);
            return 0;
        } else if (opt == O_HELP) {
            usage(stdout);
            return 0;
        }
    }
    if (st->config_file) {
        int rc = apply_file(st);
        if (rc)
            return rc;
    }
    optind = 0;
    opterr = 1;
    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const struct optdef *o = opt_by_id(opt);
        if (!o) {
            usage(stderr);
            return 2;
        }
        char where[80];
        snprintf(where, sizeof where, "--%s", o->name);
        int rc = apply(st, o, o->arg ? optarg : NULL, where);
        if (rc)
            return rc;
    }

    rule_sources.include_default = st->default_rules;
    rule_sources.files = st->rules;
    rule_sources.n = st->nrules;
    if (st->test_rules) {
        unsigned errors = 0;
        struct detect *d = load_rules(&errors);
        if (!d) {
            log_error("out of memory loading rules");
            return 1;
        }
        printf("%u rules loaded (%s%s%s), %u errors\n", detect_rule_count(d),
               st->default_rules ? detect_default_dir() : "",
               st->default_rules && st->nrules ? " and " : "", st->nrules ? "-S files" : "",
               errors);
        detect_free(d);
        return errors ? 1 : 0;
    }
    if (st->systemd_dropin)
        return print_systemd_dropin(st);
    if (st->live.iface && st->xdp.iface) {
        log_error("-i and --af-xdp together: one capture method");
        return 2;
    }
    bool live = st->live.iface != NULL || st->xdp.iface != NULL;
    if (!live && st->nreads == 0) {
        log_error("nothing to read: give a capture with -r, or an interface with -i");
        usage(stderr);
        return 2;
    }
    if (live && st->nreads) {
        log_error("-r and -i together: read files or capture live, not both");
        return 2;
    }
    if (st->filter_file && optind < argc) {
        log_error("a filter from -F and one on the command line: give only one");
        return 2;
    }
    char *bpf = NULL;
    if (st->filter_file) {
        if (!(bpf = read_filter_file(st->filter_file)))
            return 1;
    } else if (optind < argc) {
        bpf = join_args(argc - optind, argv + optind);
    }

    /* a rule file that is not there is a mistake in the command, not a bad rule */
    for (size_t i = 0; i < st->nrules; i++)
        if (access(st->rules[i], R_OK) != 0) {
            log_error("-S %s: %s", st->rules[i], strerror(errno));
            free(bpf);
            return 1;
        }
    unsigned rule_errors = 0;
    struct detect *detect = load_rules(&rule_errors);
    if (!detect) {
        log_error("out of memory loading rules");
        free(bpf);
        return 1;
    }
    (void)rule_errors; /* a bad rule is reported and left out; the others run (Suricata) */
    char host_buf[256];
    const char *sensor_name = st->sensor_name;
    if (!sensor_name || !*sensor_name) {
        if (gethostname(host_buf, sizeof host_buf) != 0)
            host_buf[0] = '\0';
        host_buf[sizeof host_buf - 1] = '\0';
        sensor_name = host_buf[0] ? host_buf : NULL;
    }
    char err[512];
    struct output_opts oo = {
        .log_dir = st->log_dir,
        .outputs = st->outputs,
        .n_outputs = st->noutputs,
        .format = st->format,
        .syslog_target = st->syslog_target,
        .syslog_tag = st->syslog_tag,
        .queue_cap = st->queue_cap,
        .compat = st->cfg.compat,
        .log_binds = st->cfg.log_binds,
        .with_filename = !live,
        .alert_references = st->alert_refs,
        .community_id_seed = st->cfg.community_id_seed,
        .log_dir_set = st->log_dir_set,
        .lossless = !live,
        .output_wait_s = st->output_wait,
        .stop = &stop_requested,
        .host = sensor_name,
        .in_iface = live ? (st->live.iface ? st->live.iface : st->xdp.iface) : NULL,
    };
    struct output *out = output_open(&oo, err, sizeof err);
    if (!out) {
        log_error("%s", err);
        detect_free(detect);
        free(bpf);
        return 2;
    }
    install_signals();
    char dest[2400];
    output_describe(out, dest, sizeof dest);
    int rc = live ? run_live(st, detect, out, bpf, dest) : run_files(st, detect, out, bpf, dest);
    free(bpf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return report_main(argc - 1, argv + 1, stdout, stderr);
    struct settings *st = calloc(1, sizeof *st);
    if (!st)
        return 1;
    config_defaults(&st->cfg);
    /* room for every option given twice (file and command line) */
    st->reads = calloc((size_t)argc + 256, sizeof *st->reads);
    st->rules = calloc((size_t)argc + 256, sizeof *st->rules);
    st->outputs = calloc((size_t)argc + 256, sizeof *st->outputs);
    st->progress = -1;
    st->log_dir = ".";
    st->default_rules = true;
    st->stats_interval = -1;
    st->live.promisc = true;
    st->live.immediate = false;
    st->live.snaplen = 65535;
    st->live.buffer_mb = 64;
    st->live.workers = 1;
    int rc = st->reads && st->rules && st->outputs ? run_sensor(argc, argv, st) : 1;
    for (size_t i = 0; i < st->nstrings; i++)
        free(st->strings[i]);
    free(st->reads);
    free(st->rules);
    free(st->outputs);
    free(st);
    return rc;
}
