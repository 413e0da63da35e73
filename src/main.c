/*
 * rpcsentry: settings from the configuration file and the command line,
 * then either captures read from files or live capture on an interface with
 * one worker thread per fanout member; signals, stats, a summary. Nearly
 * 1,000 lines, nearly all the options: their table (one row each, with its
 * help), the check of each value and the YAML file's keys; the run is runtime/'s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
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
#include "rpcsentry/build_config.h"
#include "rpcsentry/capture.h"
#include "rpcsentry/conffile.h"
#include "rpcsentry/config.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/hunt.h"
#include "rpcsentry/keys.h"
#include "rpcsentry/log.h"
#include "rpcsentry/notify.h"
#include "rpcsentry/output.h"
#include "rpcsentry/pcap_log.h"
#include "rpcsentry/report.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/sink.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

#define MAX_WORKERS 64

/* ---- signals ---- */

static volatile bool stop_requested;
static volatile sig_atomic_t hup_requested;  /* SIGHUP: reopen the logs, reload the rules */
static volatile sig_atomic_t reload_in_file; /* the same, for a worker reading files */

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
    bool log_dir_set; /* -l or log-dir given: eve.json kept beside -o outputs */
    const char *sensor_name;
    unsigned output_wait; /* seconds; 0: the default */
    const char **outputs; /* -o specs */
    size_t noutputs;
    const char **ntlm_secrets; /* --ntlm-secrets files */
    size_t nntlm_secrets;
    const char **keytabs; /* --keytab files */
    size_t nkeytabs;
    const char **smb_keys; /* --smb-keys files */
    size_t nsmb_keys;
    enum output_format format;
    const char *syslog_target, *syslog_tag;
    size_t queue_cap;
    const char *filter_file;
    const char *config_file;
    const char *user;
    const char *pcap_log;  /* -w FILE */
    size_t pcap_log_limit; /* bytes a file; 0: the mode's default */
    bool quiet, test_rules, default_rules, alert_refs, systemd_dropin;
    bool zeek_all_ops; /* --zeek-all-operations */
    bool separate;     /* --separate-captures */
    int progress;      /* -1: when stderr is a terminal */
    struct live_opts live;
    struct xdp_opts xdp;
    struct decode_opts decode; /* tunnels' ports, VLANs in the flow key */
    int stats_interval;        /* seconds; -1: the default for the mode */
    char *strings[256];        /* values kept from the configuration file */
    size_t nstrings;
};

enum opt_id {
    O_READ = 'r',
    O_IFACE = 'i',
    O_LOGDIR = 'l',
    O_FILTER = 'F',
    O_RULES = 'S',
    O_CONFIG = 'c',
    O_QUIET = 'q',
    O_VERBOSE = 'v',
    O_VERSION = 'V',
    O_HELP = 'h',
    O_OUTPUT = 'o',
    O_CHECKSUM = 'k',
    O_PCAP_LOG = 'w',
    O_COMPAT = 1000,
    O_NO_BINDS,
    O_MEMCAP,
    O_TEST_RULES,
    O_NO_DEFAULT_RULES,
    O_ALERT_REFS,
    O_ALERT_EACH_DIR,
    O_NO_NDPI,
    O_FLOW_RECORDS,
    O_WORKERS,
    O_SNAPLEN,
    O_BUFFER,
    O_NO_PROMISC,
    O_STATS_INTERVAL,
    O_USER,
    O_FLOW_MAX,
    O_EPM_TTL,
    O_TCP_TIMEOUT,
    O_STUB_MAX,
    O_AF_XDP,
    O_XDP_NATIVE,
    O_XDP_PASS,
    O_XDP_FRAMES,
    O_XDP_QUEUES,
    O_FORMAT,
    O_SYSLOG_TARGET,
    O_SYSLOG_TAG,
    O_OUTPUT_QUEUE,
    O_PROGRESS,
    O_NO_PROGRESS,
    O_OUTPUT_WAIT,
    O_SENSOR_NAME,
    O_SYSTEMD_DROPIN,
    O_SEPARATE,
    O_VLAN_TRACKING,
    O_VXLAN_PORT,
    O_GENEVE_PORT,
    O_NTLM_SECRETS,
    O_KEYTAB,
    O_SMB_KEYS,
    O_DEFRAG_POLICY,
    O_TCP_URGENT,
    O_TCP_OVERLAP_POLICY,
    O_DEFRAG_MEMCAP,
    O_DEFRAG_TIMEOUT,
    O_ZEEK_ALL_OPS,
    O_PCAP_LOG_LIMIT,
    O_PCAP_LOG_FLOW_BUFFER,
    O_PCAP_LOG_MEMCAP,
};

/* One table for getopt and the configuration file: keys are the long names. */
static const struct optdef {
    const char *name;
    int id;
    bool arg;
    bool in_file; /* may be set in the configuration file */
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
    {"xdp-frames", O_XDP_FRAMES, true, true, "N",
     "AF_XDP: UMEM frames of 4 KiB per queue (16384: 64 MiB)"},
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
    {"zeek-all-operations", O_ZEEK_ALL_OPS, false, true, NULL,
     "Zeek's format: also log the calls Zeek's\n"
     "DCE_RPC::ignored_operations leaves out (winreg's\n"
     "BaseRegOpenKey, ...; default: left out, as Zeek does)"},
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
    {"pcap-log", O_PCAP_LOG, true, true, "FILE",
     "write the packets of every flow that carried a task or\n"
     "service call or an alert, from its first packet, to FILE\n"
     "(classic pcap, as captured; other link types in FILE with\n"
     "the type's name before the extension)"},
    {"pcap-log-limit", O_PCAP_LOG_LIMIT, true, true, "BYTES",
     "pcap log: a file this large is followed by FILE1, FILE2,\n"
     "... as tcpdump -C (live default 100M; files: one file)"},
    {"pcap-log-flow-buffer", O_PCAP_LOG_FLOW_BUFFER, true, true, "BYTES",
     "pcap log: the first packets of an undecided flow held,\n"
     "at most (default 1M; past it, written from the call on)"},
    {"pcap-log-memcap", O_PCAP_LOG_MEMCAP, true, true, "BYTES",
     "pcap log: packets held of all undecided flows, at most\n"
     "(default 64M, beside --memcap)"},
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
    {"ntlm-secrets", O_NTLM_SECRETS, true, true, "FILE",
     "NT hashes to unseal NTLMSSP packet privacy with, one account\n"
     "a line: [DOMAIN\\]user:rid:LMHASH:NTHASH::: (secretsdump)\n"
     "or [DOMAIN\\]user:NTHASH; mode 0600 or stricter; repeatable"},
    {"keytab", O_KEYTAB, true, true, "FILE",
     "a keytab (MIT format) of the servers whose Kerberos sessions\n"
     "to unseal: their service tickets open the session keys;\n"
     "mode 0600 or stricter; repeatable"},
    {"smb-keys", O_SMB_KEYS, true, true, "FILE",
     "SMB 3 session keys to decrypt encrypted SMB with, one session\n"
     "a line: SESSIONID:SESSIONKEY[:S2CKEY:C2SKEY] in hex (as\n"
     "Wireshark's smb2_seskey_list); mode 0600 or stricter; repeatable"},
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
    {"no-bind-records", O_NO_BINDS, false, true, NULL, "do not write bind/alter_context exchanges"},
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
    {"defrag-policy", O_DEFRAG_POLICY, true, true, "POLICY",
     "whose bytes overlapping IP fragments keep, as the host would:\n"
     "windows (default), linux, bsd, first or last"},
    {"tcp-urgent", O_TCP_URGENT, true, true, "POLICY",
     "the byte a TCP urgent pointer names: oob (default: read out of\n"
     "band, not part of the stream, as Windows and Linux do) or inline"},
    {"tcp-overlap-policy", O_TCP_OVERLAP_POLICY, true, true, "POLICY",
     "whose bytes overlapping TCP segments keep, as the host would:\n"
     "windows (default), linux, bsd, old-linux, solaris, first or last"},
    {"defrag-memcap", O_DEFRAG_MEMCAP, true, true, "BYTES",
     "IP fragments waiting for their datagram, at most (default 16M;\n"
     "never more than a quarter of --memcap)"},
    {"defrag-timeout", O_DEFRAG_TIMEOUT, true, true, "SECONDS",
     "a datagram's fragments wait this long for the rest (default 60)"},
    {"vlan-tracking", O_VLAN_TRACKING, false, true, NULL,
     "the outer VLAN tag is part of the flow key, as Suricata's\n"
     "vlan.use-for-tracking (default: not, so that a connection whose\n"
     "directions carry different tags stays one flow)"},
    {"vxlan-port", O_VXLAN_PORT, true, true, "PORT",
     "UDP port of VXLAN, opened as a tunnel (default 4789; 0: none)"},
    {"geneve-port", O_GENEVE_PORT, true, true, "PORT",
     "UDP port of Geneve, opened as a tunnel (default 6081; 0: none)"},
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
    fprintf(f,
            "\nTrailing arguments form a BPF filter expression, as with tcpdump.\n"
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
    case 'k':
    case 'K': v <<= 10, end++; break;
    case 'm':
    case 'M': v <<= 20, end++; break;
    case 'g':
    case 'G': v <<= 30, end++; break;
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
/* The options that take a size or a number in a range; 2 on a bad value. */
static int apply_number(struct settings *st, const struct optdef *o, const char *v,
                        const char *where)
{
    long n;
    size_t sz;
    switch (o->id) {
    case O_MEMCAP:
    case O_STUB_MAX:
    case O_OUTPUT_QUEUE:
    case O_DEFRAG_MEMCAP:
    case O_PCAP_LOG_LIMIT:
    case O_PCAP_LOG_FLOW_BUFFER:
    case O_PCAP_LOG_MEMCAP:
        if (!parse_size(v, &sz) || sz == 0) {
            log_error("%s: %s: not a size: %s", where, o->name, v);
            return 2;
        }
        if (o->id == O_MEMCAP)
            st->cfg.memcap = sz;
        else if (o->id == O_DEFRAG_MEMCAP)
            st->cfg.defrag_memcap = sz;
        else if (o->id == O_OUTPUT_QUEUE)
            st->queue_cap = sz;
        else if (o->id == O_PCAP_LOG_LIMIT)
            st->pcap_log_limit = sz;
        else if (o->id == O_PCAP_LOG_MEMCAP)
            st->cfg.pcap_log_memcap = sz;
        else if (o->id == O_PCAP_LOG_FLOW_BUFFER)
            st->cfg.pcap_log_flow_buffer = (uint32_t)(sz > UINT32_MAX ? UINT32_MAX : sz);
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
    case O_DEFRAG_TIMEOUT:
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
        else if (o->id == O_DEFRAG_TIMEOUT)
            st->cfg.defrag_timeout = (uint32_t)n;
        else
            st->cfg.tcp_timeout_est = (uint32_t)n;
        break;
    }
    case O_VXLAN_PORT:
    case O_GENEVE_PORT:
        if (!parse_num(v, 0, 65535, &n)) {
            log_error("%s: %s: a port from 0 to 65535, not %s", where, o->name, v);
            return 2;
        }
        *(o->id == O_VXLAN_PORT ? &st->decode.vxlan_port : &st->decode.geneve_port) = (uint16_t)n;
        break;
    default: break;
    }
    return 0;
}

static int apply(struct settings *st, const struct optdef *o, const char *v, const char *where)
{
    bool on = true;
    if (!o->arg && !parse_flag(v, &on)) {
        log_error("%s: %s takes true or false", where, o->name);
        return 2;
    }
    switch (o->id) {
    case O_READ: st->reads[st->nreads++] = v; break;
    case O_RULES: st->rules[st->nrules++] = v; break;
    case O_NTLM_SECRETS: st->ntlm_secrets[st->nntlm_secrets++] = v; break;
    case O_KEYTAB: st->keytabs[st->nkeytabs++] = v; break;
    case O_SMB_KEYS: st->smb_keys[st->nsmb_keys++] = v; break;
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
    case O_PCAP_LOG: st->pcap_log = v; break;
    case O_NO_DEFAULT_RULES: st->default_rules = !on; break;
    case O_TEST_RULES: st->test_rules = on; break;
    case O_ALERT_REFS: st->alert_refs = on; break;
    case O_ZEEK_ALL_OPS: st->zeek_all_ops = on; break;
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
    case O_VLAN_TRACKING: st->decode.vlan_tracking = on; break;
    case O_TCP_URGENT:
        if (strcmp(v, "oob") != 0 && strcmp(v, "inline") != 0) {
            log_error("%s: tcp-urgent: oob or inline, not %s", where, v);
            return 2;
        }
        st->cfg.tcp_urgent_inline = strcmp(v, "inline") == 0;
        break;
    case O_TCP_OVERLAP_POLICY: {
        static const char *const names[] = {"windows", "linux", "bsd", "old-linux",
                                            "solaris", "first", "last"};
        size_t i = 0;
        while (i < 7 && strcmp(v, names[i]) != 0)
            i++;
        if (i == 7) {
            log_error("%s: tcp-overlap-policy: windows, linux, bsd, old-linux, solaris, first or "
                      "last, not %s",
                      where, v);
            return 2;
        }
        st->cfg.tcp_overlap_policy = (uint8_t)i; /* enum tcp_overlap_policy's order */
        break;
    }
    case O_DEFRAG_POLICY: {
        static const char *const names[] = {"windows", "linux", "bsd", "first", "last"};
        size_t i = 0;
        while (i < 5 && strcmp(v, names[i]) != 0)
            i++;
        if (i == 5) {
            log_error("%s: defrag-policy: windows, linux, bsd, first or last, not %s", where, v);
            return 2;
        }
        st->cfg.defrag_policy = (uint8_t)i; /* enum defrag_policy's order */
        break;
    }
    case O_VERBOSE:
        if (on)
            log_threshold = log_threshold < LOG_DEBUG ? log_threshold + 1 : LOG_DEBUG;
        break;
    default: return apply_number(st, o, v, where); /* sizes and numbers; the rest: none */
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

/* ---- rules ---- */

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

/* The configuration file, then the command line; -1 to go on, else the exit status. */
static int parse_command_line(int argc, char **argv, struct settings *st)
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
    return -1;
}

/* --test-rules: the rule files checked, their errors reported; the exit status. */
static int test_rules(const struct settings *st)
{
    unsigned errors = 0;
    struct detect *d = load_rules(&errors);
    if (!d) {
        log_error("out of memory loading rules");
        return 1;
    }
    printf("%u rules loaded (%s%s%s), %u errors\n", detect_rule_count(d),
           st->default_rules ? detect_default_dir() : "",
           st->default_rules && st->nrules ? " and " : "", st->nrules ? "-S files" : "", errors);
    detect_free(d);
    return errors ? 1 : 0;
}

/* What to capture from: files or an interface, not both, not neither (else 2). */
static int check_sources(const struct settings *st, int argc, bool *live)
{
    if (st->live.iface && st->xdp.iface) {
        log_error("-i and --af-xdp together: one capture method");
        return 2;
    }
    *live = st->live.iface != NULL || st->xdp.iface != NULL;
    if (!*live && st->nreads == 0) {
        log_error("nothing to read: give a capture with -r, or an interface with -i");
        usage(stderr);
        return 2;
    }
    if (*live && st->nreads) {
        log_error("-r and -i together: read files or capture live, not both");
        return 2;
    }
    if (st->filter_file && optind < argc) {
        log_error("a filter from -F and one on the command line: give only one");
        return 2;
    }
    return 0;
}

/* The rules and the outputs opened, then the run; frees bpf; the exit status. */
static int start(struct settings *st, bool live, char *bpf)
{
    decode_configure(&st->decode); /* before any packet, and any thread */
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
        .zeek_all_operations = st->zeek_all_ops,
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
    struct pcap_log *pcap_log = NULL;
    if (st->pcap_log) {
        /* live, rotated at 100 MiB unless told; files: one file unless told */
        uint64_t limit = st->pcap_log_limit ? st->pcap_log_limit : live ? (uint64_t)100 << 20 : 0;
        if (!(pcap_log = pcap_log_open(st->pcap_log, limit, err, sizeof err))) {
            log_error("%s", err);
            output_close(out);
            detect_free(detect);
            free(bpf);
            return 2;
        }
    }
    install_signals();
    char dest[2400];
    output_describe(out, dest, sizeof dest);
    struct run_config rc_ = {
        .cfg = &st->cfg,
        .reads = st->reads,
        .nreads = st->nreads,
        .bpf = bpf,
        .dest = dest,
        .user = st->user,
        .quiet = st->quiet,
        .separate = st->separate,
        .progress = st->progress,
        .stats_interval = st->stats_interval,
        .file_workers = st->live.workers > 1 ? (unsigned)st->live.workers : 1,
        .live = &st->live,
        .xdp = &st->xdp,
        .stop = &stop_requested,
        .hup = &hup_requested,
        .reload_in_file = &reload_in_file,
        .load_rules = load_rules,
        .pcap_log = pcap_log,
        .pcap_log_path = st->pcap_log,
    };
    int rc = live ? runtime_run_live(&rc_, detect, out) : runtime_run_files(&rc_, detect, out);
    free(bpf);
    return rc;
}

static int run_sensor(int argc, char **argv, struct settings *st)
{
    int rc = parse_command_line(argc, argv, st);
    if (rc >= 0)
        return rc;
    rule_sources.include_default = st->default_rules;
    rule_sources.files = st->rules;
    rule_sources.n = st->nrules;
    if (st->test_rules)
        return test_rules(st);
    if (st->systemd_dropin)
        return print_systemd_dropin(st);
    bool live = false;
    if ((rc = check_sources(st, argc, &live)) != 0)
        return rc;
    char *bpf = NULL;
    if (st->filter_file) {
        if (!(bpf = read_filter_file(st->filter_file)))
            return 1;
    } else if (optind < argc) {
        bpf = join_args(argc - optind, argv + optind);
    }
    struct keystore *keys = NULL;
    if (st->nntlm_secrets || st->nkeytabs || st->nsmb_keys) {
        char err[1200];
        struct keys_files kf = {st->ntlm_secrets, st->nntlm_secrets, st->keytabs,
                                st->nkeytabs,     st->smb_keys,      st->nsmb_keys};
        if (!(keys = keys_load_files(&kf, err, sizeof err))) {
            log_error("%s", err);
            free(bpf);
            return 1;
        }
        st->cfg.keys = keys;
    }
    rc = start(st, live, bpf);
    keys_free(keys); /* every key zeroed */
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
    st->ntlm_secrets = calloc((size_t)argc + 256, sizeof *st->ntlm_secrets);
    st->keytabs = calloc((size_t)argc + 256, sizeof *st->keytabs);
    st->smb_keys = calloc((size_t)argc + 256, sizeof *st->smb_keys);
    st->progress = -1;
    st->log_dir = ".";
    st->default_rules = true;
    st->stats_interval = -1;
    st->live.promisc = true;
    st->decode = (struct decode_opts){.vxlan_port = 4789, .geneve_port = 6081};
    st->live.immediate = false;
    st->live.snaplen = 65535;
    st->live.buffer_mb = 64;
    st->live.workers = 1;
    int rc =
        st->reads && st->rules && st->outputs && st->ntlm_secrets && st->keytabs && st->smb_keys
            ? run_sensor(argc, argv, st)
            : 1;
    for (size_t i = 0; i < st->nstrings; i++)
        free(st->strings[i]);
    free(st->reads);
    free(st->rules);
    free(st->outputs);
    free(st->ntlm_secrets);
    free(st->keytabs);
    free(st->smb_keys);
    free(st);
    return rc;
}
