/*
 * `rpcsentry report EVE...`: the human summary of EVE files already written.
 * Who created, changed, ran or deleted which task or service on which host,
 * with the command or binary, in time order; the alerts on each call; then
 * the stories. Reads records from rpcsentry (with the extension object);
 * records of other kinds and other sensors are skipped and counted.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/argkeys.h"
#include "rpcsentry/report.h"

struct action {
    char *ts, *client, *server, *user, *iface, *op, *cls, *what, *detail, *file;
    bool sealed, failed;
    double flow_id;
    double tx_id;
    int worst; /* most serious alert severity on the call, 0 = none */
    unsigned alerts;
    unsigned long order; /* position in the input: ties in time keep it */
};

struct alert_key {
    double flow_id, tx_id;
    char *file; /* the same capture read twice gives the same flow ids */
    int severity;
};

struct story {
    char *ts, *summary;
    unsigned long order;
};

struct report {
    struct action *a;
    size_t n, cap;
    struct alert_key *al;
    size_t nal, capal;
    struct story *s;
    size_t ns, caps;
    unsigned long lines, bad, other;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *str_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, nc * sz);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

/* "domain\user" from the extension's auth, or SMB's NTLMSSP, or NULL */
static char *user_of(const cJSON *x, const cJSON *rec)
{
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(x, "auth");
    const char *u = str_at(auth, "user"), *d = str_at(auth, "domain");
    if (!u || !*u) {
        const cJSON *ntlm = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(rec, "smb"), "ntlmssp");
        u = str_at(ntlm, "user");
        d = str_at(ntlm, "domain");
    }
    if (!u || !*u)
        return NULL;
    size_t n = strlen(u) + (d ? strlen(d) : 0) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", d && *d ? d : "", d && *d ? "\\" : "", u);
    return s;
}

/* The command a task runs: its first exec action, or at.exe's command line. */
static char *task_command(const cJSON *args)
{
    const char *cmd = str_at(args, ARG_COMMAND);
    if (cmd)
        return strdup(cmd);
    const cJSON *acts = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(args, ARG_TASK), ARG_ACTIONS);
    const cJSON *act;
    cJSON_ArrayForEach(act, acts)
    {
        const char *c = str_at(act, ARG_COMMAND);
        if (!c)
            continue;
        const char *a = str_at(act, ARG_ARGUMENTS);
        size_t n = strlen(c) + (a ? strlen(a) : 0) + 2;
        char *s = malloc(n);
        if (s)
            snprintf(s, n, "%s%s%s", c, a && *a ? " " : "", a && *a ? a : "");
        return s;
    }
    return NULL;
}

static void take_call(struct report *r, const cJSON *rec, const cJSON *x)
{
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(x, "target");
    const char *cls = str_at(x, "class");
    if (!cJSON_IsTrue(target) || !cls ||
        (strcmp(cls, "create") && strcmp(cls, "modify") && strcmp(cls, "delete") &&
         strcmp(cls, "execute")))
        return;
    if (!grow((void **)&r->a, &r->cap, r->n, sizeof *r->a))
        return;
    struct action *a = &r->a[r->n];
    memset(a, 0, sizeof *a);
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(x, "args");
    const char *ts = str_at(x, "request_time");
    a->ts = dup_or_null(ts ? ts : str_at(rec, "timestamp"));
    a->client = dup_or_null(str_at(rec, "src_ip"));
    a->server = dup_or_null(str_at(rec, "dest_ip"));
    a->user = user_of(x, rec);
    a->iface = dup_or_null(str_at(x, "interface"));
    a->op = dup_or_null(str_at(x, "operation"));
    a->cls = strdup(cls);
    a->file = dup_or_null(str_at(rec, "pcap_filename"));
    const char *name = str_at(args, ARG_SERVICE_NAME);
    if (!name)
        name = str_at(args, ARG_PATH);
    if (!name)
        name = str_at(args, "task_name");
    if (!name && a->iface && !strcmp(a->iface, "ATSvc"))
        name = "(at job)";
    a->what = dup_or_null(name);
    const char *bin = str_at(args, ARG_BINARY_PATH);
    a->detail = bin ? strdup(bin) : task_command(args);
    /* a sealed call opened with --ntlm-secrets has its arguments: not "encrypted" */
    a->sealed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "sealed")) &&
                !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "decrypted"));
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(x, "result");
    a->failed = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(res, "success"));
    const cJSON *fid = cJSON_GetObjectItemCaseSensitive(rec, "flow_id");
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(rec, "tx_id");
    a->flow_id = cJSON_IsNumber(fid) ? fid->valuedouble : -1;
    a->tx_id = cJSON_IsNumber(tid) ? tid->valuedouble : -1;
    a->order = r->lines;
    r->n++;
}

static void take_alert(struct report *r, const cJSON *rec)
{
    const cJSON *fid = cJSON_GetObjectItemCaseSensitive(rec, "flow_id");
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(rec, "tx_id");
    const cJSON *sev = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(rec, "alert"), "severity");
    if (!cJSON_IsNumber(fid) || !cJSON_IsNumber(tid) || !cJSON_IsNumber(sev))
        return;
    if (!grow((void **)&r->al, &r->capal, r->nal, sizeof *r->al))
        return;
    r->al[r->nal++] = (struct alert_key){fid->valuedouble, tid->valuedouble,
                                         dup_or_null(str_at(rec, "pcap_filename")), sev->valueint};
}

static void take_story(struct report *r, const cJSON *rec, const cJSON *x)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "story");
    const char *sum = str_at(st, "summary");
    if (!sum || !grow((void **)&r->s, &r->caps, r->ns, sizeof *r->s))
        return;
    r->s[r->ns].ts = dup_or_null(str_at(rec, "timestamp"));
    r->s[r->ns].summary = strdup(sum);
    r->s[r->ns].order = r->lines;
    r->ns++;
}

static bool read_file(struct report *r, const char *path, FILE *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fprintf(err, "rpcsentry report: %s: %s\n", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lines = 0, records = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        r->lines++;
        lines++;
        cJSON *rec = cJSON_ParseWithLength(line, (size_t)len);
        if (!rec || !cJSON_IsObject(rec)) {
            r->bad++;
            cJSON_Delete(rec);
            continue;
        }
        const char *type = str_at(rec, "event_type");
        records += type != NULL;
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(rec, "rpcsentry");
        if (type && !strcmp(type, "dcerpc") && x)
            take_call(r, rec, x);
        else if (type && !strcmp(type, "alert"))
            take_alert(r, rec);
        else if (type && !strcmp(type, "lateral_movement") && x)
            take_story(r, rec, x);
        else
            r->other++;
        cJSON_Delete(rec);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (lines && !records) { /* a file of something else, given by mistake */
        fprintf(err,
                "rpcsentry report: %s: not EVE JSON (none of its %lu lines is a record "
                "with an event_type)\n",
                path, lines);
        return false;
    }
    return true;
}

static int cmp_action(const void *a, const void *b)
{
    const struct action *x = a, *y = b;
    int c = strcmp(x->ts ? x->ts : "", y->ts ? y->ts : "");
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_alert(const void *a, const void *b)
{
    const struct alert_key *x = a, *y = b;
    if (x->flow_id != y->flow_id)
        return x->flow_id < y->flow_id ? -1 : 1;
    if (x->tx_id != y->tx_id)
        return x->tx_id < y->tx_id ? -1 : 1;
    return strcmp(x->file ? x->file : "", y->file ? y->file : "");
}

static int cmp_story(const void *a, const void *b)
{
    const struct story *x = a, *y = b;
    int c = strcmp(x->ts ? x->ts : "", y->ts ? y->ts : "");
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* "2023-11-15T00:43:20.402471+0000" -> "2023-11-15 00:43:20" */
static void short_ts(const char *ts, char out[20])
{
    snprintf(out, 20, "%s", ts ? ts : "?");
    if (strlen(out) > 10 && out[10] == 'T')
        out[10] = ' ';
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x ? x : "", y ? y : "");
}

/* How many different values the field at off takes (NULL counts as one value, as "") */
static size_t count_distinct(const struct report *r, size_t off)
{
    if (!r->n)
        return 0;
    const char **v = malloc(r->n * sizeof *v);
    if (!v)
        return 0;
    for (size_t i = 0; i < r->n; i++)
        v[i] = *(char *const *)((const char *)&r->a[i] + off);
    qsort(v, r->n, sizeof *v, cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < r->n; i++)
        k += cmp_str(&v[i - 1], &v[i]) != 0;
    free(v);
    return k;
}

int report_main(int argc, char **argv, FILE *out, FILE *err)
{
    bool full = false;
    if (argc > 1 && !strcmp(argv[1], "--full")) {
        full = true;
        argv++;
        argc--;
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? err : out,
                "usage: rpcsentry report [--full] EVE_FILE... ('-' = standard input)\n"
                "Who created, changed, ran or deleted which scheduled task or service on which\n"
                "host, with the command or binary, in time order; then the stories.\n"
                "--full: commands and binary paths in full (else cut at 160 characters).\n");
        return argc < 2 ? 2 : 0;
    }
    struct report r;
    memset(&r, 0, sizeof r);
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (!read_file(&r, argv[i], err))
            rc = 1;
    /* each call's alerts: those with its flow and transaction */
    if (r.nal) /* qsort and bsearch take no null array, even an empty one */
        qsort(r.al, r.nal, sizeof *r.al, cmp_alert);
    for (size_t i = 0; i < r.n && r.nal; i++) {
        struct alert_key key = {r.a[i].flow_id, r.a[i].tx_id, r.a[i].file, 0};
        struct alert_key *k = bsearch(&key, r.al, r.nal, sizeof *r.al, cmp_alert);
        while (k && k > r.al && !cmp_alert(k - 1, &key))
            k--;
        for (; k && k < r.al + r.nal && !cmp_alert(k, &key); k++) {
            r.a[i].alerts++;
            if (!r.a[i].worst || k->severity < r.a[i].worst)
                r.a[i].worst = k->severity;
        }
    }
    if (r.n)
        qsort(r.a, r.n, sizeof *r.a, cmp_action);
    if (r.ns)
        qsort(r.s, r.ns, sizeof *r.s, cmp_story);

    size_t hosts = count_distinct(&r, offsetof(struct action, server));
    size_t users = count_distinct(&r, offsetof(struct action, user));
    fprintf(out, "%zu task/service change%s on %zu host%s by %zu account%s", r.n,
            r.n == 1 ? "" : "s", hosts, hosts == 1 ? "" : "s", users, users == 1 ? "" : "s");
    if (r.n) {
        char a[20], b[20];
        short_ts(r.a[0].ts, a);
        short_ts(r.a[r.n - 1].ts, b);
        fprintf(out, ", %s to %s UTC", a, b);
    }
    fprintf(out, "\n");
    if (r.n)
        fprintf(out, "\n%-19s  %-15s  %-15s  %-22s  %-7s  %-24s  %s\n", "time (UTC)", "client",
                "host", "account", "action", "operation", "task or service: command or binary");
    for (size_t i = 0; i < r.n; i++) {
        const struct action *a = &r.a[i];
        char t[20], alerts[48] = "";
        short_ts(a->ts, t);
        if (a->alerts)
            snprintf(alerts, sizeof alerts, "  [%u alert%s, severity %d]", a->alerts,
                     a->alerts == 1 ? "" : "s", a->worst);
        fprintf(out, "%-19s  %-15s  %-15s  %-22s  %-7s  %-24s  %s", t, a->client ? a->client : "?",
                a->server ? a->server : "?", a->user ? a->user : "-", a->cls, a->op ? a->op : "?",
                a->what && *a->what ? a->what : "?");
        if (a->detail && *a->detail && (full || strlen(a->detail) <= 160))
            fprintf(out, ": %s", a->detail);
        else if (a->detail && *a->detail)
            fprintf(out, ": %.160s... (%zu more characters; --full shows them)", a->detail,
                    strlen(a->detail) - 160);
        else if (a->sealed)
            fprintf(out, " (sealed: the arguments are encrypted)");
        if (a->failed)
            fprintf(out, " (the server refused it)");
        fprintf(out, "%s\n", alerts);
    }
    if (r.ns) {
        fprintf(out, "\nstories (several calls that together ran something):\n");
        for (size_t i = 0; i < r.ns; i++) {
            char t[20];
            short_ts(r.s[i].ts, t);
            size_t len = strlen(r.s[i].summary);
            if (full || len <= 200)
                fprintf(out, "%-19s  %s\n", t, r.s[i].summary);
            else
                fprintf(out, "%-19s  %.200s... (%zu more characters)\n", t, r.s[i].summary,
                        len - 200);
        }
    }
    if (r.bad)
        fprintf(err, "rpcsentry report: %lu of %lu lines were not JSON records\n", r.bad, r.lines);
    for (size_t i = 0; i < r.n; i++) {
        struct action *a = &r.a[i];
        free(a->ts), free(a->client), free(a->server), free(a->user), free(a->iface);
        free(a->op), free(a->cls), free(a->what), free(a->detail), free(a->file);
    }
    for (size_t i = 0; i < r.ns; i++)
        free(r.s[i].ts), free(r.s[i].summary);
    for (size_t i = 0; i < r.nal; i++)
        free(r.al[i].file);
    free(r.a);
    free(r.al);
    free(r.s);
    return rc;
}
