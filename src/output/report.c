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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "report_internal.h"
#include "rpcsentry/argkeys.h"
#include "rpcsentry/report.h"

struct alert_key {
    double flow_id, tx_id;
    char *file; /* the same capture read twice gives the same flow ids */
    char *tool, *signature;
    int severity;
};

struct report {
    struct report_action *a;
    size_t n, cap;
    struct alert_key *al;
    size_t nal, capal;
    struct report_story *s;
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

static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * "YYYY-MM-DD[Thh:mm[:ss[.ffffff]]][Z|+hhmm|+hh:mm|-...]" (a space may stand
 * for the T) to microseconds since 1970 UTC. With `end`, the parts left out
 * are filled to the end of the period given: "2017-10-09" is its last
 * microsecond. False when s is not of that shape.
 */
bool report_parse_time(const char *s, bool end, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0, off = 0;
    int64_t frac = 0, fill = 0;
    if (!s || strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    s += 10;
    fill = 86400000000LL;
    if (*s == 'T' || *s == ' ') {
        if (!digits(s + 1, 2, &h) || s[3] != ':' || !digits(s + 4, 2, &mi) || h > 23 || mi > 59)
            return false;
        s += 6;
        fill = 60000000LL;
        if (*s == ':') {
            if (!digits(s + 1, 2, &se) || se > 60)
                return false;
            s += 3;
            fill = 1000000LL;
            if (*s == '.' || *s == ',') {
                int nd = 0;
                int64_t scale = 1000000;
                for (s++; *s >= '0' && *s <= '9'; s++, nd++)
                    if (nd < 6) {
                        scale /= 10;
                        frac += (*s - '0') * scale;
                    }
                if (!nd)
                    return false;
                fill = nd >= 6 ? 1 : scale;
            }
        }
    }
    if (*s == 'Z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int oh, om;
        int sign = *s == '-' ? -1 : 1;
        if (!digits(s + 1, 2, &oh))
            return false;
        s += 3;
        if (*s == ':')
            s++;
        if (!digits(s, 2, &om) || oh > 23 || om > 59)
            return false;
        s += 2;
        off = sign * (oh * 60 + om);
    }
    if (*s)
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off * 60;
    *out = secs * 1000000 + frac + (end ? fill - 1 : 0);
    return true;
}

static long long int_at(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    /* a count or packet number; one a long long cannot hold (or NaN) is not one */
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9.2e18
               ? (long long)v->valuedouble
               : -1;
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
    struct report_action *a = &r->a[r->n];
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
    a->community_id = dup_or_null(str_at(rec, "community_id"));
    a->pcap_cnt = int_at(rec, "pcap_cnt");
    a->has_time = report_parse_time(a->ts, false, &a->us);
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
    const cJSON *alert = cJSON_GetObjectItemCaseSensitive(rec, "alert");
    const cJSON *sev = cJSON_GetObjectItemCaseSensitive(alert, "severity");
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(alert, "metadata"), "tool");
    const cJSON *tool = cJSON_IsArray(tools) ? cJSON_GetArrayItem(tools, 0) : tools;
    if (!cJSON_IsNumber(fid) || !cJSON_IsNumber(tid) || !cJSON_IsNumber(sev))
        return;
    if (!grow((void **)&r->al, &r->capal, r->nal, sizeof *r->al))
        return;
    r->al[r->nal++] =
        (struct alert_key){fid->valuedouble,
                           tid->valuedouble,
                           dup_or_null(str_at(rec, "pcap_filename")),
                           dup_or_null(cJSON_IsString(tool) ? tool->valuestring : NULL),
                           dup_or_null(str_at(alert, "signature")),
                           sev->valueint};
}

static void take_story(struct report *r, const cJSON *rec, const cJSON *x)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "story");
    const char *sum = str_at(st, "summary");
    if (!sum || !grow((void **)&r->s, &r->caps, r->ns, sizeof *r->s))
        return;
    struct report_story *y = &r->s[r->ns];
    memset(y, 0, sizeof *y);
    y->ts = dup_or_null(str_at(rec, "timestamp"));
    y->summary = strdup(sum);
    y->client = dup_or_null(str_at(rec, "src_ip"));
    y->server = dup_or_null(str_at(rec, "dest_ip"));
    y->user = dup_or_null(str_at(st, "user"));
    y->file = dup_or_null(str_at(rec, "pcap_filename"));
    y->pcap_cnt = int_at(rec, "pcap_cnt");
    y->has_time = report_parse_time(y->ts, false, &y->us);
    y->order = r->lines;
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
    const struct report_action *x = a, *y = b;
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
    const struct report_story *x = a, *y = b;
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

struct options {
    bool full;
    const char *host, *account, *html;
    bool has_since, has_until;
    int64_t since, until;
    enum { FMT_TEXT, FMT_CSV, FMT_JSON } format;
};

static int usage(FILE *f, int rc)
{
    fprintf(f,
            "usage: rpcsentry report [--full] [--host H] [--account A] [--since T] [--until T]\n"
            "                        [--format text|csv|json] [--html FILE] EVE_FILE...\n"
            "Who created, changed, ran or deleted which scheduled task or service on which\n"
            "host, with the command or binary, in time order; then the stories.\n"
            "('-' = standard input)\n"
            "--full: commands and binary paths in full (else cut at 160 characters).\n"
            "--host H: calls from or to H; --account A: by DOMAIN\\user or user A (any case).\n"
            "--since T, --until T: from, up to T (ISO 8601 as in the records, UTC unless a\n"
            "  zone is given; --until 2017-10-09 takes in that whole day).\n"
            "--format csv: a header line then one line a row; json: one JSON object a row.\n"
            "--html FILE: one self-contained HTML page (host graph, timeline, table) to FILE.\n");
    return rc;
}

/* Parses the options before the files; returns the index of the first file, or -1. */
static int parse_options(int argc, char **argv, struct options *o, FILE *err)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break;
        if (!strcmp(a, "--full")) {
            o->full = true;
            continue;
        }
        bool takes = !strcmp(a, "--host") || !strcmp(a, "--account") || !strcmp(a, "--since") ||
                     !strcmp(a, "--until") || !strcmp(a, "--format") || !strcmp(a, "--html");
        if (!takes) {
            fprintf(err, "rpcsentry report: unknown option %s\n", a);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(err, "rpcsentry report: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--host")) {
            o->host = v;
        } else if (!strcmp(a, "--account")) {
            o->account = v;
        } else if (!strcmp(a, "--html")) {
            o->html = v;
        } else if (!strcmp(a, "--format")) {
            if (!strcmp(v, "text"))
                o->format = FMT_TEXT;
            else if (!strcmp(v, "csv"))
                o->format = FMT_CSV;
            else if (!strcmp(v, "json"))
                o->format = FMT_JSON;
            else {
                fprintf(err, "rpcsentry report: --format takes text, csv or json, not %s\n", v);
                return -1;
            }
        } else {
            bool until = !strcmp(a, "--until");
            if (!report_parse_time(v, until, until ? &o->until : &o->since)) {
                fprintf(err,
                        "rpcsentry report: %s %s: not a time like 2023-11-15T00:43:20 "
                        "(ISO 8601: date, then hh:mm[:ss[.ffffff]], then Z or +hhmm)\n",
                        a, v);
                return -1;
            }
            if (until)
                o->has_until = true;
            else
                o->has_since = true;
        }
    }
    if (o->has_since && o->has_until && o->since > o->until) {
        fprintf(err, "rpcsentry report: --since is after --until: nothing can match\n");
        return -1;
    }
    return i;
}

/* u is "DOMAIN\user" or "user"; an account given without a domain matches any */
static bool account_matches(const char *u, const char *want)
{
    if (!u)
        return false;
    if (!strcasecmp(u, want))
        return true;
    const char *bs = strrchr(u, '\\');
    return bs && !strchr(want, '\\') && !strcasecmp(bs + 1, want);
}

static bool keep(const struct options *o, const char *client, const char *server, const char *user,
                 bool has_time, int64_t us)
{
    if (o->host && !((client && !strcmp(client, o->host)) || (server && !strcmp(server, o->host))))
        return false;
    if (o->account && !account_matches(user, o->account))
        return false;
    if ((o->has_since || o->has_until) && !has_time)
        return false;
    if (o->has_since && us < o->since)
        return false;
    if (o->has_until && us > o->until)
        return false;
    return true;
}

static void free_action(struct report_action *a)
{
    free(a->ts), free(a->client), free(a->server), free(a->user), free(a->iface);
    free(a->op), free(a->cls), free(a->what), free(a->detail), free(a->file);
    free(a->community_id), free(a->tool), free(a->signature);
}

static void free_story(struct report_story *s)
{
    free(s->ts), free(s->summary), free(s->client), free(s->server), free(s->user);
    free(s->file);
}

static void filter(struct report *r, const struct options *o)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct report_action *a = &r->a[i];
        if (keep(o, a->client, a->server, a->user, a->has_time, a->us))
            r->a[k++] = *a;
        else
            free_action(a);
    }
    r->n = k;
    k = 0;
    for (size_t i = 0; i < r->ns; i++) {
        struct report_story *s = &r->s[i];
        if (keep(o, s->client, s->server, s->user, s->has_time, s->us))
            r->s[k++] = *s;
        else
            free_story(s);
    }
    r->ns = k;
}

/* strcmp, with NULL after "" (an absent field is not an empty one) */
static int cmp_null_str(const char *x, const char *y)
{
    int c = strcmp(x ? x : "", y ? y : "");
    return c ? c : (!x) - (!y);
}

/* What makes two rows the same row, whatever their time, capture and packet. */
static int cmp_row(const struct report_action *x, const struct report_action *y)
{
    const char *const fx[] = {x->client, x->server, x->user,   x->iface, x->op,
                              x->cls,    x->what,   x->detail, x->tool};
    const char *const fy[] = {y->client, y->server, y->user,   y->iface, y->op,
                              y->cls,    y->what,   y->detail, y->tool};
    for (size_t i = 0; i < sizeof fx / sizeof *fx; i++) {
        int c = cmp_null_str(fx[i], fy[i]);
        if (c)
            return c;
    }
    if (x->sealed != y->sealed)
        return x->sealed ? 1 : -1;
    if (x->failed != y->failed)
        return x->failed ? 1 : -1;
    if (x->alerts != y->alerts)
        return x->alerts < y->alerts ? -1 : 1;
    return x->worst - y->worst;
}

static const struct report_action *fold_base; /* qsort's comparator has no context argument */

static int cmp_fold(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = cmp_row(&fold_base[i], &fold_base[j]);
    return c ? c : (i > j) - (i < j);
}

/* r->a in time order: the first of identical rows counts them, the others get 0. */
static size_t fold(struct report *r)
{
    size_t rows = 0;
    size_t *idx = r->n ? malloc(r->n * sizeof *idx) : NULL;
    if (!idx) {
        for (size_t i = 0; i < r->n; i++)
            r->a[i].count = 1;
        return r->n;
    }
    for (size_t i = 0; i < r->n; i++)
        idx[i] = i;
    fold_base = r->a;
    qsort(idx, r->n, sizeof *idx, cmp_fold);
    for (size_t g = 0; g < r->n;) {
        size_t e = g + 1;
        while (e < r->n && !cmp_row(&r->a[idx[g]], &r->a[idx[e]]))
            e++;
        r->a[idx[g]].count = (unsigned)(e - g); /* idx[g] is the earliest of the group */
        for (size_t k = g + 1; k < e; k++)
            r->a[idx[k]].count = 0;
        rows++;
        g = e;
    }
    free(idx);
    return rows;
}

static void print_text(FILE *out, const struct report *r, const struct options *o, size_t rows)
{
    size_t hosts = count_distinct(r, offsetof(struct report_action, server));
    size_t users = count_distinct(r, offsetof(struct report_action, user));
    fprintf(out, "%zu task/service change%s on %zu host%s by %zu account%s", r->n,
            r->n == 1 ? "" : "s", hosts, hosts == 1 ? "" : "s", users, users == 1 ? "" : "s");
    if (r->n) {
        char a[20], b[20];
        short_ts(r->a[0].ts, a);
        short_ts(r->a[r->n - 1].ts, b);
        fprintf(out, ", %s to %s UTC", a, b);
    }
    fprintf(out, "\n");
    if (rows < r->n)
        fprintf(out,
                "(%zu row%s: identical calls are one row with xN, at the time, capture and "
                "packet of the first)\n",
                rows, rows == 1 ? "" : "s");
    if (r->n)
        fprintf(out, "\n%-19s  %-15s  %-15s  %-22s  %-7s  %-24s  %s\n", "time (UTC)", "client",
                "host", "account", "action", "operation",
                "task or service: command or binary  xN  [alerts]  (capture, packet)");
    for (size_t i = 0; i < r->n; i++) {
        const struct report_action *a = &r->a[i];
        if (!a->count)
            continue;
        char t[20], alerts[48] = "";
        short_ts(a->ts, t);
        if (a->alerts)
            snprintf(alerts, sizeof alerts, "  [%u alert%s, severity %d]", a->alerts,
                     a->alerts == 1 ? "" : "s", a->worst);
        fprintf(out, "%-19s  %-15s  %-15s  %-22s  %-7s  %-24s  %s", t, a->client ? a->client : "?",
                a->server ? a->server : "?", a->user ? a->user : "-", a->cls, a->op ? a->op : "?",
                a->what && *a->what ? a->what : "?");
        if (a->detail && *a->detail && (o->full || strlen(a->detail) <= 160))
            fprintf(out, ": %s", a->detail);
        else if (a->detail && *a->detail)
            fprintf(out, ": %.160s... (%zu more characters; --full shows them)", a->detail,
                    strlen(a->detail) - 160);
        else if (a->sealed)
            fprintf(out, " (sealed: the arguments are encrypted)");
        if (a->failed)
            fprintf(out, " (the server refused it)");
        if (a->count > 1)
            fprintf(out, "  x%u", a->count);
        fprintf(out, "%s  (%s, packet ", alerts, a->file ? a->file : "?");
        if (a->pcap_cnt >= 0)
            fprintf(out, "%lld)\n", a->pcap_cnt);
        else
            fprintf(out, "?)\n");
    }
    if (r->ns) {
        fprintf(out, "\nstories (several calls that together ran something):\n");
        for (size_t i = 0; i < r->ns; i++) {
            char t[20];
            short_ts(r->s[i].ts, t);
            size_t len = strlen(r->s[i].summary);
            if (o->full || len <= 200)
                fprintf(out, "%-19s  %s\n", t, r->s[i].summary);
            else
                fprintf(out, "%-19s  %.200s... (%zu more characters)\n", t, r->s[i].summary,
                        len - 200);
        }
    }
}

/* RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled */
static void csv_field(FILE *out, const char *s, bool last)
{
    if (!s)
        s = "";
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

static const char *const ROW_FIELDS[] = {
    "time",   "client",  "target", "account", "interface",   "operation", "class",
    "what",   "detail",  "count",  "alerts",  "severity",    "tool",      "sealed",
    "failed", "capture", "packet", "flow_id", "community_id"};
#define N_ROW_FIELDS (sizeof ROW_FIELDS / sizeof *ROW_FIELDS)

static bool print_rows(FILE *out, const struct report *r, const struct options *o)
{
    if (o->format == FMT_CSV)
        for (size_t f = 0; f < N_ROW_FIELDS; f++)
            csv_field(out, ROW_FIELDS[f], f + 1 == N_ROW_FIELDS);
    for (size_t i = 0; i < r->n; i++) {
        const struct report_action *a = &r->a[i];
        if (!a->count)
            continue;
        char count[16], alerts[16], sev[16], packet[24] = "", flow[24] = "";
        snprintf(count, sizeof count, "%u", a->count);
        snprintf(alerts, sizeof alerts, "%u", a->alerts);
        snprintf(sev, sizeof sev, "%d", a->worst);
        if (a->pcap_cnt >= 0)
            snprintf(packet, sizeof packet, "%lld", a->pcap_cnt);
        if (a->flow_id >= 0)
            snprintf(flow, sizeof flow, "%.0f", a->flow_id);
        const char *v[N_ROW_FIELDS] = {a->ts,
                                       a->client,
                                       a->server,
                                       a->user,
                                       a->iface,
                                       a->op,
                                       a->cls,
                                       a->what,
                                       a->detail,
                                       count,
                                       alerts,
                                       a->worst ? sev : "",
                                       a->tool,
                                       a->sealed ? "true" : "false",
                                       a->failed ? "true" : "false",
                                       a->file,
                                       packet,
                                       flow,
                                       a->community_id};
        if (o->format == FMT_CSV) {
            for (size_t f = 0; f < N_ROW_FIELDS; f++)
                csv_field(out, v[f], f + 1 == N_ROW_FIELDS);
            continue;
        }
        cJSON *j = cJSON_CreateObject();
        if (!j)
            return false;
        for (size_t f = 0; f < N_ROW_FIELDS; f++) {
            const char *k = ROW_FIELDS[f];
            if (!strcmp(k, "count"))
                cJSON_AddNumberToObject(j, k, a->count);
            else if (!strcmp(k, "alerts"))
                cJSON_AddNumberToObject(j, k, a->alerts);
            else if (!strcmp(k, "severity"))
                a->worst ? (void)cJSON_AddNumberToObject(j, k, a->worst)
                         : (void)cJSON_AddNullToObject(j, k);
            else if (!strcmp(k, "sealed"))
                cJSON_AddBoolToObject(j, k, a->sealed);
            else if (!strcmp(k, "failed"))
                cJSON_AddBoolToObject(j, k, a->failed);
            else if (!strcmp(k, "packet"))
                a->pcap_cnt >= 0 ? (void)cJSON_AddNumberToObject(j, k, (double)a->pcap_cnt)
                                 : (void)cJSON_AddNullToObject(j, k);
            else if (!strcmp(k, "flow_id"))
                a->flow_id >= 0 ? (void)cJSON_AddNumberToObject(j, k, a->flow_id)
                                : (void)cJSON_AddNullToObject(j, k);
            else
                v[f] ? (void)cJSON_AddStringToObject(j, k, v[f])
                     : (void)cJSON_AddNullToObject(j, k);
        }
        char *s = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!s)
            return false;
        fprintf(out, "%s\n", s);
        free(s);
    }
    return true;
}

int report_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct options o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(out, 0);
    int first = parse_options(argc, argv, &o, err);
    if (first < 0)
        return 2;
    if (first >= argc)
        return usage(err, 2);
    struct report r;
    memset(&r, 0, sizeof r);
    int rc = 0;
    for (int i = first; i < argc; i++)
        if (!read_file(&r, argv[i], err))
            rc = 1;
    /* each call's alerts: those with its flow and transaction */
    if (r.nal) /* qsort and bsearch take no null array, even an empty one */
        qsort(r.al, r.nal, sizeof *r.al, cmp_alert);
    for (size_t i = 0; i < r.n && r.nal; i++) {
        struct alert_key key = {r.a[i].flow_id, r.a[i].tx_id, r.a[i].file, NULL, NULL, 0};
        struct alert_key *k = bsearch(&key, r.al, r.nal, sizeof *r.al, cmp_alert);
        while (k && k > r.al && !cmp_alert(k - 1, &key))
            k--;
        for (; k && k < r.al + r.nal && !cmp_alert(k, &key); k++) {
            r.a[i].alerts++;
            if (!r.a[i].worst || k->severity < r.a[i].worst) {
                r.a[i].worst = k->severity;
                free(r.a[i].signature);
                r.a[i].signature = dup_or_null(k->signature);
            }
            if (!r.a[i].tool && k->tool)
                r.a[i].tool = strdup(k->tool);
        }
    }
    filter(&r, &o);
    if (r.n)
        qsort(r.a, r.n, sizeof *r.a, cmp_action);
    if (r.ns)
        qsort(r.s, r.ns, sizeof *r.s, cmp_story);

    if (o.html) {
        FILE *h = strcmp(o.html, "-") ? fopen(o.html, "w") : out;
        struct report_data d = {r.a, r.n, r.s, r.ns, argv + first, (size_t)(argc - first)};
        if (!h) {
            fprintf(err, "rpcsentry report: %s: %s\n", o.html, strerror(errno));
            rc = 1;
        } else {
            bool ok = report_write_html(h, &d);
            if (h != out && fclose(h))
                ok = false;
            if (!ok) {
                fprintf(err, "rpcsentry report: %s: could not write the page\n", o.html);
                rc = 1;
            }
        }
    } else {
        size_t rows = fold(&r);
        if (o.format == FMT_TEXT)
            print_text(out, &r, &o, rows);
        else if (!print_rows(out, &r, &o)) {
            fprintf(err, "rpcsentry report: out of memory\n");
            rc = 1;
        }
    }
    if (r.bad)
        fprintf(err, "rpcsentry report: %lu of %lu lines were not JSON records\n", r.bad, r.lines);
    for (size_t i = 0; i < r.n; i++)
        free_action(&r.a[i]);
    for (size_t i = 0; i < r.ns; i++)
        free_story(&r.s[i]);
    for (size_t i = 0; i < r.nal; i++)
        free(r.al[i].file), free(r.al[i].tool), free(r.al[i].signature);
    free(r.a);
    free(r.al);
    free(r.s);
    return rc;
}
