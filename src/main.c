/*
 * rpcsentry: reads captures, wires the pipeline, prints a summary.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/appid.h"
#include "rpcsentry/build_config.h"
#include "rpcsentry/capture.h"
#include "rpcsentry/config.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/log.h"
#include "rpcsentry/output.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

static volatile bool stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = true;
}

/* SIGHUP: reload the rules between two packets (worker.h). */
static volatile sig_atomic_t reload_requested;

static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void report_rule_error(const char *msg)
{
    log_error("%s", msg);
}

/* What the rules were loaded from, to load them again. */
static struct {
    bool include_default;
    const char *const *files;
    size_t n;
} rule_sources;

/*
 * Loads the rule files again. Calls in flight keep going: they hold no
 * pointer into the rule set, only the gid:sid of the rules that alerted. If
 * any rule fails, the rules in use stay, as Suricata does on a failed reload.
 */
static void reload_rules(struct worker *w)
{
    unsigned errors = 0;
    struct detect *d = detect_load(rule_sources.include_default, rule_sources.files,
                                   rule_sources.n, report_rule_error, &errors);
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

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rpcsentry -r FILE|DIR [-r ...] [-l DIR] [options] [BPF expression]\n"
            "\n"
            "Watches DCE/RPC for remote scheduled-task and service creation and writes\n"
            "Suricata-style EVE JSON.\n"
            "\n"
            "  -r, --read FILE|DIR   capture to read (pcap or pcapng; '-' = stdin); a directory\n"
            "                        means every capture in it, in name order. Repeatable.\n"
            "  -l, --log-dir DIR     write DIR/eve.json (default: current directory); '-' = stdout\n"
            "  -F FILE               read the BPF filter expression from FILE (as tcpdump)\n"
            "  -S, --rules FILE|DIR  add a rule file (or every .rules file of a directory);\n"
            "                        repeatable; the default rule set is always loaded first\n"
            "      --no-default-rules  load only the -S rules\n"
            "      --test-rules      check the rule files, report errors as file:line, and exit\n"
            "      --alert-references  write each alert's rule references as URLs\n"
            "                        (Suricata's metadata.rule.reference; off by default)\n"
            "      --alert-each-direction  a rule that matches a call's request and its response\n"
            "                        alerts on both, as Suricata does (default: once per call)\n"
            "      --compat          Suricata-compatible records: no rpcsentry extension object\n"
            "      --no-bind-records do not write bind/alter_context exchanges\n"
            "      --flow-records    write a `flow` record for every flow when it ends\n"
            "      --no-ndpi         do not identify flows with nDPI\n"
            "      --memcap BYTES    global cap on buffered state (default 192M; k/M/G suffixes)\n"
            "  -q, --quiet           no summary on stderr\n"
            "  -v, --verbose         more messages on stderr\n"
            "  -V, --version         print the version\n"
            "  -h, --help            this help\n"
            "\n"
            "Trailing arguments form a BPF filter expression, as with tcpdump.\n"
            "Exit status: 0 on success (truncated captures are warned about), 1 when a\n"
            "capture is missing, unreadable or corrupt, 2 on usage errors.\n");
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
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

static void print_summary(const struct worker *w, unsigned files, unsigned failed,
                          const char *dest)
{
    const struct stats *s = &w->stats;
    fprintf(stderr,
            "rpcsentry: %u capture%s read%s, %llu packets, %llu bytes, %llu flows "
            "(%llu DCE/RPC over TCP, %llu SMB)\n",
            files, files == 1 ? "" : "s", failed ? " (some failed)" : "",
            (unsigned long long)s->packets, (unsigned long long)s->bytes,
            (unsigned long long)s->flows_created, (unsigned long long)s->app_dcerpc_flows,
            (unsigned long long)s->app_smb_flows);
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
        if (w->anomalies[t]) {
            fprintf(stderr, "%s%s %llu", sep, anomaly_info((enum anomaly_type)t)->event,
                    (unsigned long long)w->anomalies[t]);
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
    fprintf(stderr, "rpcsentry: %llu events written to %s",
            (unsigned long long)s->events_written, dest);
    if (s->events_dropped)
        fprintf(stderr, ", %llu dropped", (unsigned long long)s->events_dropped);
    fprintf(stderr, "; peak memory accounted %zu bytes\n", w->mem.total_peak);
}

static int run_sensor(int argc, char **argv, const char **reads, const char **rule_files);

int main(int argc, char **argv)
{
    /* the option lists live here so that every way out of run_sensor frees them */
    const char **reads = calloc((size_t)argc + 1, sizeof *reads);
    const char **rule_files = calloc((size_t)argc + 1, sizeof *rule_files);
    int rc = reads && rule_files ? run_sensor(argc, argv, reads, rule_files) : 1;
    free(reads);
    free(rule_files);
    return rc;
}

static int run_sensor(int argc, char **argv, const char **reads, const char **rule_files)
{
    static const struct option longopts[] = {
        {"read", required_argument, NULL, 'r'},
        {"log-dir", required_argument, NULL, 'l'},
        {"compat", no_argument, NULL, 1000},
        {"no-bind-records", no_argument, NULL, 1001},
        {"memcap", required_argument, NULL, 1002},
        {"rules", required_argument, NULL, 'S'},
        {"test-rules", no_argument, NULL, 1003},
        {"no-default-rules", no_argument, NULL, 1004},
        {"alert-references", no_argument, NULL, 1005},
        {"alert-each-direction", no_argument, NULL, 1006},
        {"no-ndpi", no_argument, NULL, 1007},
        {"flow-records", no_argument, NULL, 1008},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct config cfg;
    config_defaults(&cfg);
    size_t nreads = 0;
    const char *log_dir = ".";
    const char *filter_file = NULL;
    size_t nrules = 0;
    bool quiet = false, test_rules = false, default_rules = true, alert_refs = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "+r:l:F:S:qvVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': reads[nreads++] = optarg; break;
        case 'S': rule_files[nrules++] = optarg; break;
        case 1003: test_rules = true; break;
        case 1004: default_rules = false; break;
        case 1005: alert_refs = true; break;
        case 1006: cfg.alert_each_direction = true; break;
        case 1007: cfg.ndpi = false; break;
        case 1008: cfg.log_flows = true; break;
        case 'l': log_dir = optarg; break;
        case 'F': filter_file = optarg; break;
        case 1000: cfg.compat = true; break;
        case 1001: cfg.log_binds = false; break;
        case 1002:
            if (!parse_size(optarg, &cfg.memcap)) {
                log_error("--memcap: not a size: %s", optarg);
                return 2;
            }
            break;
        case 'q': quiet = true; break;
        case 'v': log_threshold = log_threshold < LOG_DEBUG ? log_threshold + 1 : LOG_DEBUG; break;
        case 'V': printf("rpcsentry %s\n", RS_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    unsigned rule_errors = 0;
    struct detect *detect = NULL;
    if (test_rules) {
        if (!(detect = detect_load(default_rules, rule_files, nrules, report_rule_error,
                                   &rule_errors))) {
            log_error("out of memory loading rules");
            return 1;
        }
        printf("%u rules loaded (%s%s%s), %u errors\n", detect_rule_count(detect),
               default_rules ? detect_default_dir() : "", default_rules && nrules ? " and " : "",
               nrules ? "-S files" : "", rule_errors);
        detect_free(detect);
        return rule_errors ? 1 : 0;
    }
    if (nreads == 0) {
        log_error("nothing to read: give a capture with -r (live capture comes later)");
        usage(stderr);
        return 2;
    }
    if (filter_file && optind < argc) {
        log_error("a filter from -F and one on the command line: give only one");
        return 2;
    }
    char *bpf = NULL;
    if (filter_file) {
        if (!(bpf = read_filter_file(filter_file)))
            return 1;
    } else if (optind < argc) {
        bpf = join_args(argc - optind, argv + optind);
    }

    char err[512];
    struct capture_input *files = capture_expand(reads, nreads, err, sizeof err);
    if (!files) {
        log_error("%s", err);
        free(bpf);
        return 1;
    }
    if (!(detect = detect_load(default_rules, rule_files, nrules, report_rule_error,
                               &rule_errors))) {
        log_error("out of memory loading rules");
        capture_free_list(files);
        free(bpf);
        return 1;
    }

    struct worker w;
    memset(&w, 0, sizeof w);
    w.cfg = &cfg;
    w.mem.total_cap = cfg.memcap;
    w.mem.cap[MEM_STREAM] = cfg.stream_memcap;
    w.flows = flow_table_new(&w);
    struct output_opts oo = {
        .log_dir = log_dir,
        .compat = cfg.compat,
        .log_binds = cfg.log_binds,
        .with_filename = true,
        .alert_references = alert_refs,
        .community_id_seed = cfg.community_id_seed,
    };
    w.out = output_open(&oo, err, sizeof err);
    if (!w.flows || !w.out) {
        log_error("%s", w.out ? "out of memory" : err);
        flow_table_free(&w, w.flows);
        output_close(w.out);
        detect_free(detect);
        capture_free_list(files);
        free(bpf);
        return 1;
    }
    w.on_anomaly = output_anomaly;
    w.detect = detect;
    if (cfg.ndpi && appid_available()) {
        w.appid = appid_open(err, sizeof err);
        if (!w.appid)
            log_warn("flows are not identified: %s", err);
    }
    rule_sources.include_default = default_rules;
    rule_sources.files = rule_files;
    rule_sources.n = nrules;
    w.reload_requested = &reload_requested;
    w.reload = reload_rules;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART; /* a read from a pipe goes on after it */
    sigaction(SIGHUP, &sa, NULL);

    unsigned done = 0, failed = 0, skipped = 0;
    for (struct capture_input *f = files; f->path && !stop_requested; f++) {
        struct capture_result res;
        capture_file(&w, f->path, bpf, &stop_requested, &res);
        detect_flush(&w); /* stories end with their capture, as flows do */
        switch (res.status) {
        case CAPTURE_OK:
            done++;
            break;
        case CAPTURE_TRUNCATED:
            done++;
            log_warn("%s", res.message);
            break;
        case CAPTURE_NOT_CAPTURE:
            if (f->from_dir) {
                skipped++;
                log_info("skipping %s", res.message);
                break;
            }
            /* a file named on its own must be a capture */
            __attribute__((fallthrough));
        case CAPTURE_ERROR:
            failed++;
            log_error("%s", res.message);
            break;
        case CAPTURE_BAD_FILTER:
            failed++;
            log_error("%s", res.message);
            goto out; /* the same expression fails on every file */
        }
    }
out:
    flow_table_free(&w, w.flows);
    appid_close(w.appid); /* after the flows: each ending flow releases its nDPI state */
    detect_flush(&w);
    story_table_free(&w);
    transport_worker_free(&w);
    output_close(w.out);
    detect_free(w.detect); /* the rule set in use: a reload may have replaced the first */
    if (w.mem.total_used)
        log_error("internal: %zu accounted bytes not released at exit", w.mem.total_used);
    if (!quiet) {
        if (skipped)
            fprintf(stderr, "rpcsentry: skipped %u files that are not captures\n", skipped);
        print_summary(&w, done, failed,
                      strcmp(log_dir, "-") == 0 ? "standard output" : log_dir);
    }
    capture_free_list(files);
    free(bpf);
    return failed ? 1 : 0;
}
