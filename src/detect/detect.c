/*
 * The detection engine: rule sets loaded from files, indexed by interface,
 * evaluated on finished requests and calls; alerts, pass rules, counts.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect_internal.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/flow_record.h"
#include "rpcsentry/output.h"
#include "rpcsentry/smb_file.h"
#include "rpcsentry/worker.h"
#include "story.h"

#define MAX_RULE_TEXT (64 * 1024)

/* Rules for one interface UUID. */
struct iface_group {
    struct uuid uuid;
    struct rule **rules;
    unsigned n;
};

struct detect {
    struct rule *all; /* every rule, for freeing */
    unsigned count;
    struct rule **generic; /* rules without dcerpc.iface */
    unsigned n_generic;
    struct iface_group *groups;
    unsigned n_groups;
    struct rule **stories; /* rules on story records */
    unsigned n_stories;
    struct rule **smb; /* rules on files written and tools' pipes (rpc.smb_file, smb_tool) */
    unsigned n_smb;
    struct rule **stream; /* byte-level fallback rules */
    unsigned n_stream;
};

/* Suricata's classification.config: name, description, priority. */
static const struct {
    const char *name, *desc;
    int prio;
} classes[] = {
    {"not-suspicious", "Not Suspicious Traffic", 3},
    {"unknown", "Unknown Traffic", 3},
    {"bad-unknown", "Potentially Bad Traffic", 2},
    {"attempted-recon", "Attempted Information Leak", 2},
    {"successful-recon-limited", "Information Leak", 2},
    {"successful-recon-largescale", "Large Scale Information Leak", 2},
    {"attempted-dos", "Attempted Denial of Service", 2},
    {"successful-dos", "Denial of Service", 2},
    {"attempted-user", "Attempted User Privilege Gain", 1},
    {"unsuccessful-user", "Unsuccessful User Privilege Gain", 1},
    {"successful-user", "Successful User Privilege Gain", 1},
    {"attempted-admin", "Attempted Administrator Privilege Gain", 1},
    {"successful-admin", "Successful Administrator Privilege Gain", 1},
    {"rpc-portmap-decode", "Decode of an RPC Query", 2},
    {"shellcode-detect", "Executable code was detected", 1},
    {"string-detect", "A suspicious string was detected", 3},
    {"suspicious-filename-detect", "A suspicious filename was detected", 2},
    {"suspicious-login", "An attempted login using a suspicious username was detected", 2},
    {"system-call-detect", "A system call was detected", 2},
    {"tcp-connection", "A TCP connection was detected", 4},
    {"trojan-activity", "A Network Trojan was detected", 1},
    {"unusual-client-port-connection", "A client was using an unusual port", 2},
    {"network-scan", "Detection of a Network Scan", 3},
    {"denial-of-service", "Detection of a Denial of Service Attack", 2},
    {"non-standard-protocol", "Detection of a non-standard protocol or event", 2},
    {"protocol-command-decode", "Generic Protocol Command Decode", 3},
    {"web-application-activity", "access to a potentially vulnerable web application", 2},
    {"web-application-attack", "Web Application Attack", 1},
    {"misc-activity", "Misc activity", 3},
    {"misc-attack", "Misc Attack", 2},
    {"icmp-event", "Generic ICMP event", 3},
    {"inappropriate-content", "Inappropriate Content was Detected", 1},
    {"policy-violation", "Potential Corporate Privacy Violation", 1},
    {"default-login-attempt", "Attempt to login by a default username and password", 2},
    {"targeted-activity", "Targeted Malicious Activity was Detected", 1},
    {"exploit-kit", "Exploit Kit Activity Detected", 1},
    {"external-ip-check", "Device Retrieving External IP Address Detected", 2},
    {"domain-c2", "Domain Observed Used for C2 Detected", 1},
    {"pup-activity", "Possibly Unwanted Program Detected", 2},
    {"credential-theft", "Successful Credential Theft Detected", 1},
    {"social-engineering", "Possible Social Engineering Attempted", 2},
    {"coin-mining", "Crypto Currency Mining Activity Detected", 2},
    {"command-and-control", "Malware Command and Control Activity Detected", 1},
    {"lateral-movement", "Lateral Movement", 1},
};

bool classtype_lookup(const char *name, const char **category, int *priority)
{
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strcmp(classes[i].name, name) == 0) {
            *category = classes[i].desc;
            *priority = classes[i].prio;
            return true;
        }
    return false;
}

/* The installed rules, or the source tree's when running from a build directory. */
const char *detect_default_dir(void)
{
    static char dir[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (n > 0) {
        exe[n] = '\0';
        size_t sl = strlen(RS_SOURCE_DIR);
        if (strncmp(exe, RS_SOURCE_DIR, sl) == 0 && exe[sl] == '/') {
            snprintf(dir, sizeof dir, "%s/signatures", RS_SOURCE_DIR);
            return dir;
        }
    }
    snprintf(dir, sizeof dir, "%s/signatures", RS_DATA_DIR);
    if (stat(dir, &st) != 0)
        snprintf(dir, sizeof dir, "%s/signatures", RS_SOURCE_DIR);
    return dir;
}

/* Alerts, and alerts by severity (3 counts 3 and below), for stats and the summary. */
static void count_alert(struct worker *w, const struct alert_info *a)
{
    w->stats.alerts++;
    if (a->severity <= 1)
        w->stats.alerts_sev1++;
    else if (a->severity == 2)
        w->stats.alerts_sev2++;
    else
        w->stats.alerts_sev3++;
}

static void add_to(struct rule ***list, unsigned *n, struct rule *r)
{
    *list = realloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = r;
}

static void index_rule(struct detect *d, struct rule *r)
{
    if (r->story) {
        add_to(&d->stories, &d->n_stories, r);
        return;
    }
    if (r->smb_file || r->smb_tool) {
        add_to(&d->smb, &d->n_smb, r);
        return;
    }
    if (r->stream_rule) {
        add_to(&d->stream, &d->n_stream, r);
        return;
    }
    if (!r->has_iface) {
        add_to(&d->generic, &d->n_generic, r);
        return;
    }
    for (unsigned i = 0; i < d->n_groups; i++)
        if (uuid_eq(&d->groups[i].uuid, &r->iface)) {
            add_to(&d->groups[i].rules, &d->groups[i].n, r);
            return;
        }
    d->groups = realloc(d->groups, (d->n_groups + 1) * sizeof *d->groups);
    struct iface_group *g = &d->groups[d->n_groups++];
    g->uuid = r->iface;
    g->rules = NULL;
    g->n = 0;
    add_to(&g->rules, &g->n, r);
}

/* Reads one rule file: lines, '\' continuations, comments. */
static void load_file(struct detect *d, const char *path, void (*report)(const char *),
                      unsigned *errors)
{
    char msg[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, sizeof msg, "%s: %s", path, strerror(errno));
        report(msg);
        (*errors)++;
        return;
    }
    char *text = malloc(MAX_RULE_TEXT);
    char line[8192];
    size_t len = 0;
    unsigned lineno = 0, start = 0;
    while (text && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (len == 0) {
            char *t = line;
            while (*t == ' ' || *t == '\t')
                t++;
            if (*t == '#' || *t == '\0')
                continue;
            start = lineno;
        }
        bool cont = n && line[n - 1] == '\\';
        if (cont)
            line[--n] = '\0';
        if (len + n + 1 >= MAX_RULE_TEXT) {
            snprintf(msg, sizeof msg, "%s:%u: rule longer than %d bytes", path, start,
                     MAX_RULE_TEXT);
            report(msg);
            (*errors)++;
            len = 0;
            continue;
        }
        memcpy(text + len, line, n);
        len += n;
        text[len] = '\0';
        if (cont)
            continue;
        char err[512];
        struct rule *r = rule_parse(text, path, start, err, sizeof err);
        if (!r) {
            snprintf(msg, sizeof msg, "%s:%u: %s", path, start, err);
            report(msg);
            (*errors)++;
        } else {
            r->next = d->all;
            d->all = r;
            r->order = d->count++;
        }
        len = 0;
    }
    if (len) {
        snprintf(msg, sizeof msg, "%s:%u: the file ends inside a continued rule", path, start);
        report(msg);
        (*errors)++;
    }
    free(text);
    fclose(f);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(struct detect *d, const char *dir, void (*report)(const char *),
                     unsigned *errors)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: %s", dir, strerror(errno));
        report(msg);
        (*errors)++;
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".rules") == 0) {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(dh);
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        load_file(d, path, report, errors);
        free(names[i]);
    }
    free(names);
}

static void dedupe_and_index(struct detect *d, void (*report)(const char *), unsigned *errors);

static int cmp_order(const void *a, const void *b)
{
    const struct rule *x = *(struct rule *const *)a, *y = *(struct rule *const *)b;
    return x->order < y->order ? -1 : x->order > y->order;
}

struct detect *detect_load(bool include_default, const char *const *files, size_t nfiles,
                           void (*report)(const char *msg), unsigned *errors)
{
    struct detect *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *errors = 0;
    if (include_default)
        load_dir(d, detect_default_dir(), report, errors);
    for (size_t i = 0; i < nfiles; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0 && S_ISDIR(st.st_mode))
            load_dir(d, files[i], report, errors);
        else
            load_file(d, files[i], report, errors);
    }
    dedupe_and_index(d, report, errors);
    return d;
}

static int cmp_key(const void *a, const void *b)
{
    const struct rule *x = *(struct rule *const *)a, *y = *(struct rule *const *)b;
    uint64_t kx = (uint64_t)x->info.gid << 32 | x->info.sid;
    uint64_t ky = (uint64_t)y->info.gid << 32 | y->info.sid;
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Two rules with one gid:sid: as Suricata, the higher rev stays (the first
 * one loaded on a tie) and the other is reported and dropped. Then the
 * survivors are indexed, in the order they were loaded.
 */
static void dedupe_and_index(struct detect *d, void (*report)(const char *), unsigned *errors)
{
    unsigned n = d->count;
    struct rule **v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return;
    unsigned i = 0;
    for (struct rule *r = d->all; r; r = r->next)
        v[i++] = r;
    qsort(v, n, sizeof *v, cmp_key);
    struct rule *keep = NULL; /* the survivor of the current gid:sid */
    for (i = 0; i < n; i++) {
        struct rule *b = v[i];
        if (!keep || keep->info.gid != b->info.gid || keep->info.sid != b->info.sid) {
            keep = b;
            continue;
        }
        struct rule *was = keep;
        if (b->info.rev > keep->info.rev)
            keep = b;
        struct rule *drop = keep == b ? was : b;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s:%u: duplicate sid %u (rev %u; %s:%u has rev %u): %s", b->file,
                 b->line, b->info.sid, b->info.rev, was->file, was->line, was->info.rev,
                 drop == b ? "this one is dropped" : "the earlier one is dropped");
        report(msg);
        (*errors)++;
        drop->dropped = true;
    }
    /* index in load order */
    qsort(v, n, sizeof *v, cmp_order);
    unsigned live = 0;
    for (i = 0; i < n; i++)
        if (!v[i]->dropped) {
            index_rule(d, v[i]);
            live++;
        }
    d->count = live;
    free(v);
}

void detect_free(struct detect *d)
{
    if (!d)
        return;
    while (d->all) {
        struct rule *r = d->all;
        d->all = r->next;
        rule_free(r);
    }
    free(d->generic);
    for (unsigned i = 0; i < d->n_groups; i++)
        free(d->groups[i].rules);
    free(d->groups);
    free(d->stories);
    free(d->smb);
    free(d->stream);
    free(d);
}

unsigned detect_rule_count(const struct detect *d)
{
    return d ? d->count : 0;
}

bool detect_has_stream_rules(const struct detect *d)
{
    return d && d->n_stream;
}

/* ---- evaluation ---- */

struct hit_list {
    const struct rule *r[64];
    unsigned n;
    bool pass;
};

static uint64_t rule_key(const struct rule *r)
{
    return (uint64_t)r->info.gid << 32 | r->info.sid;
}

/* Did the rule alert at the request? Then it stays silent at the response. */
static bool fired_at_request(const struct rule *r, const struct rpc_call *c)
{
    for (unsigned i = 0; i < c->n_fired; i++)
        if (c->fired[i] == rule_key(r))
            return true;
    /* more alerts than remembered: ask the rule (the request stub is gone by now) */
    return c->n_fired == RPC_FIRED_MAX && c->req_ptype != RPC_PTYPE_NONE &&
           rule_match_call(r, c, false) && rule_match_patterns(r, c, false);
}

/*
 * One alert per rule per call: at the response, a rule that matched the
 * request stays silent (Suricata would alert on each direction).
 */
static void evaluate(const struct detect *d, const struct rpc_call *c, bool at_response,
                     bool each_direction, struct hit_list *hits)
{
    const struct rule *const *lists[2] = {(const struct rule *const *)d->generic, NULL};
    unsigned counts[2] = {d->n_generic, 0};
    if (!(c->flags & RPC_F_CTX_UNKNOWN))
        for (unsigned i = 0; i < d->n_groups; i++)
            if (uuid_eq(&d->groups[i].uuid, &c->ctx.uuid)) {
                lists[1] = (const struct rule *const *)d->groups[i].rules;
                counts[1] = d->groups[i].n;
            }
    for (int l = 0; l < 2; l++)
        for (unsigned i = 0; i < counts[l]; i++) {
            const struct rule *r = lists[l][i];
            if (!rule_match_call(r, c, at_response) || !rule_match_patterns(r, c, at_response))
                continue;
            if (at_response && !each_direction && !r->pass && fired_at_request(r, c))
                continue;
            if (r->pass)
                hits->pass = true;
            else if (hits->n < 64)
                hits->r[hits->n++] = r;
        }
}

static void fire(struct worker *w, struct rpc_call *c, bool at_response)
{
    struct detect *d = w->detect;
    if (!d || !d->count)
        return;
    struct hit_list hits = {.n = 0};
    if (c->passed)
        return;
    evaluate(d, c, at_response, w->cfg && w->cfg->alert_each_direction, &hits);
    if (hits.pass) {
        c->passed = true; /* a pass rule silences the call, its response too */
        return;
    }
    if (hits.n)
        c->transport->flow->alerted = true;
    const struct alert_info *infos[sizeof hits.r / sizeof *hits.r];
    for (unsigned i = 0; i < hits.n; i++) {
        count_alert(w, &hits.r[i]->info);
        infos[i] = &hits.r[i]->info;
        if (!at_response && c->n_fired < RPC_FIRED_MAX)
            c->fired[c->n_fired++] = rule_key(hits.r[i]);
    }
    output_alerts(w, c, infos, hits.n, at_response);
}

/* A call about a task or a service marks its flow (for the pcap log), as an alert does. */
static void mark_target(struct rpc_call *c)
{
    if (iface_call_target(c) && c->transport && c->transport->flow)
        c->transport->flow->target = true;
}

void detect_request(struct worker *w, struct rpc_call *call)
{
    mark_target(call);
    fire(w, call, false);
}

static void count_class(struct worker *w, const struct rpc_call *c)
{
    switch (c->cls) {
    case RPC_CLASS_READ: w->stats.calls_read++; break;
    case RPC_CLASS_CREATE: w->stats.calls_create++; break;
    case RPC_CLASS_MODIFY: w->stats.calls_modify++; break;
    case RPC_CLASS_DELETE: w->stats.calls_delete++; break;
    case RPC_CLASS_EXECUTE: w->stats.calls_execute++; break;
    default: w->stats.calls_other++; break;
    }
    if (!iface_call_target(c))
        return;
    w->stats.target_calls++;
    switch (c->cls) {
    case RPC_CLASS_READ: w->stats.target_read++; break;
    case RPC_CLASS_CREATE: w->stats.target_create++; break;
    case RPC_CLASS_MODIFY: w->stats.target_modify++; break;
    case RPC_CLASS_DELETE: w->stats.target_delete++; break;
    case RPC_CLASS_EXECUTE: w->stats.target_execute++; break;
    default: break;
    }
}

void detect_complete(struct worker *w, struct rpc_call *call)
{
    if (call->kind == RPC_KIND_REQUEST && call->req_ptype != RPC_PTYPE_NONE) {
        mark_target(call);
        count_class(w, call);
        if (call->res_ptype != RPC_PTYPE_NONE)
            fire(w, call, true);
    }
    output_call(w, call);
    if (call->kind == RPC_KIND_REQUEST && call->req_ptype != RPC_PTYPE_NONE)
        story_note(w, call);
}

/* A recognised story: its record, then the rules written for stories. */
void detect_story(struct worker *w, const struct rpc_story *s)
{
    output_story(w, s);
    struct detect *d = w->detect;
    for (unsigned i = 0; d && i < d->n_stories; i++) {
        const struct rule *r = d->stories[i];
        if (strcmp(r->story, s->kind) != 0 && strcmp(r->story, "any") != 0)
            continue;
        /* addresses on a story rule: those of the call that completed the story */
        if (!rule_match_header(r, &s->flow.key, s->client_ep, false))
            continue;
        count_alert(w, &r->info);
        output_story_alert(w, s, &r->info);
    }
}

void detect_file(struct worker *w, const struct smb_file_record *f)
{
    /* an executable or script written over SMB is part of the movement: the pcap log keeps
       its flow as it keeps those of target calls */
    if (f->kind != SMB_FILE_DATA)
        f->flow->target = true;
    story_file(w, f);
    static const char *const kinds[] = {"data", "pe", "script"};
    struct detect *d = w->detect;
    for (unsigned i = 0; d && i < d->n_smb; i++) {
        const struct rule *r = d->smb[i];
        if (!r->smb_file ||
            (strcmp(r->smb_file, "any") != 0 && strcmp(r->smb_file, kinds[f->kind]) != 0) ||
            !rule_match_header(r, &f->flow->key, f->client_ep, false))
            continue;
        f->flow->alerted = true;
        count_alert(w, &r->info);
        output_file_alert(w, f, &r->info);
    }
}

void detect_pipe(struct worker *w, const struct smb_pipe_record *p)
{
    output_pipe(w, p);
    struct detect *d = w->detect;
    for (unsigned i = 0; d && p->tool && p->control && i < d->n_smb; i++) {
        const struct rule *r = d->smb[i];
        if (!r->smb_tool ||
            (strcmp(r->smb_tool, "any") != 0 && strcasecmp(r->smb_tool, p->tool) != 0) ||
            !rule_match_header(r, &p->flow->key, p->client_ep, false))
            continue;
        p->flow->alerted = true;
        count_alert(w, &r->info);
        output_pipe_alert(w, p, &r->info);
    }
}

void detect_flush(struct worker *w)
{
    story_flush(w);
}

void story_table_free(struct worker *w)
{
    story_free(w);
}

/* Does rule r match these bytes, coming from endpoint ep of the flow? */
static bool stream_hit(const struct rule *r, const struct flow_ref *fr, int ep, const uint8_t *data,
                       size_t len)
{
    int client = fr->client == FLOW_CLIENT_UNKNOWN ? ep : fr->client;
    bool to_client = ep != client;
    if ((r->flow == FLOW_TO_SERVER && to_client) || (r->flow == FLOW_TO_CLIENT && !to_client))
        return false;
    return rule_match_header(r, &fr->key, client, to_client) && rule_match_stream(r, data, len);
}

void detect_stream(struct worker *w, struct flow_ref *flow, int ep, const uint8_t *data, size_t len,
                   struct stream_window *win)
{
    struct detect *d = w->detect;
    if (!d || !d->n_stream || !len)
        return;
    ep &= 1;
    /* the seam: the window's tail and the start of the new bytes */
    uint8_t seam[2 * STREAM_TAIL];
    size_t have = win->len[ep], head = len < STREAM_TAIL ? len : STREAM_TAIL;
    memcpy(seam, win->tail[ep], have);
    memcpy(seam + have, data, head);
    for (unsigned i = 0; i < d->n_stream; i++) {
        uint64_t bit = i < 64 ? 1ULL << i : 0;
        if (win->fired & bit)
            continue;
        const struct rule *r = d->stream[i];
        if (!stream_hit(r, flow, ep, data, len) &&
            !(have && stream_hit(r, flow, ep, seam, have + head)))
            continue;
        win->fired |= bit;
        flow->alerted = true;
        count_alert(w, &r->info);
        output_stream_alert(w, flow, ep, &r->info);
    }
    /* keep the last STREAM_TAIL bytes seen in this direction */
    if (len >= STREAM_TAIL) {
        memcpy(win->tail[ep], data + len - STREAM_TAIL, STREAM_TAIL);
        win->len[ep] = STREAM_TAIL;
    } else {
        size_t keep = have + len > STREAM_TAIL ? STREAM_TAIL - len : have;
        memmove(win->tail[ep], win->tail[ep] + have - keep, keep);
        memcpy(win->tail[ep] + keep, data, len);
        win->len[ep] = (uint16_t)(keep + len);
    }
}
