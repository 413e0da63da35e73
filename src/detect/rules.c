/*
 * The rule parser: Suricata's syntax for the header and options, the
 * DCE/RPC keywords Suricata has, and rpcsentry's own over decoded calls.
 * Errors say what is wrong; the caller adds file:line.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detect_internal.h"
#include "rpcsentry/argkeys.h"
#include "rpcsentry/args.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/names.h"
#include "rpcsentry/output.h"
#include "rules_parse.h"

bool rp_fail(struct parse *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    return false;
}

char *rp_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/*
 * A quoted value: strips the quotes and resolves the escapes a rule needs
 * (\" and \;, and in content also \\ and \:). Other backslashes stay: a
 * pcre's \d or \. is the regex's business.
 */
bool rp_unquote(struct parse *p, char *v, const char *what)
{
    bool content = strcmp(what, "content") == 0;
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return rp_fail(p, "%s: the value must be in double quotes", what);
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        char next = v[i + 1];
        if (v[i] == '\\' && i + 2 < n &&
            (next == '"' || next == ';' || (content && (next == '\\' || next == ':'))))
            i++;
        v[o++] = v[i];
    }
    v[o] = '\0';
    return true;
}

bool rp_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-' || *s == '\0')
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

bool rp_int(const char *s, long long lo, long long hi, int32_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = (int32_t)v;
    return true;
}

/* ---- addresses and ports ---- */

static bool addr_one(const char *tok, struct net_range *r)
{
    char buf[80];
    snprintf(buf, sizeof buf, "%s", tok);
    char *slash = strchr(buf, '/');
    int bits = -1;
    if (slash) {
        *slash = '\0';
        unsigned long long b;
        if (!rp_uint(slash + 1, 128, &b))
            return false;
        bits = (int)b;
    }
    memset(r->lo, 0, 16);
    int alen;
    if (inet_pton(AF_INET, buf, r->lo) == 1)
        alen = 4, r->ipver = 4;
    else if (inet_pton(AF_INET6, buf, r->lo) == 1)
        alen = 16, r->ipver = 6;
    else
        return false;
    if (bits < 0)
        bits = alen * 8;
    if (bits > alen * 8)
        return false;
    memcpy(r->hi, r->lo, 16);
    for (int i = bits; i < alen * 8; i++) {
        r->lo[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
        r->hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
    }
    return true;
}

/* Variables: HOME_NET is the private ranges, EXTERNAL_NET any (as Suricata ships them). */
static const char *addr_var(const char *name)
{
    if (strcmp(name, "$HOME_NET") == 0)
        return "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7]";
    if (strcmp(name, "$EXTERNAL_NET") == 0 || strcmp(name, "$SMB_SERVERS") == 0 ||
        strcmp(name, "$DNS_SERVERS") == 0)
        return "any";
    return NULL;
}

static bool parse_addr(struct parse *p, const char *tok, struct addr_spec *a, int depth)
{
    bool neg = false;
    while (*tok == '!')
        neg = !neg, tok++;
    if (*tok == '$') {
        const char *v = addr_var(tok);
        if (!v)
            return rp_fail(p, "unknown address variable %s", tok);
        tok = v;
    }
    if (strcmp(tok, "any") == 0) {
        if (neg)
            return rp_fail(p, "!any matches nothing");
        if (depth == 0)
            a->any = true;
        else {
            struct net_range all = {.ipver = 0};
            memset(all.hi, 0xff, 16);
            if (!GROW(p, a->r, a->n))
                return false;
            a->r[a->n++] = all;
        }
        return true;
    }
    if (*tok == '[') {
        if (depth > 4)
            return rp_fail(p, "address lists nested too deep");
        size_t n = strlen(tok);
        if (tok[n - 1] != ']')
            return rp_fail(p, "unbalanced [ in %s", tok);
        char *inner = strndup(tok + 1, n - 2);
        char *save = NULL, *part;
        /* split on commas at depth 0 of brackets */
        int level = 0;
        char *start = inner;
        bool ok = true;
        for (char *c = inner;; c++) {
            if (*c == '[')
                level++;
            else if (*c == ']')
                level--;
            if ((*c == ',' && level == 0) || *c == '\0') {
                char end = *c;
                *c = '\0';
                part = rp_trim(start);
                if (*part) {
                    unsigned before = a->n;
                    ok = parse_addr(p, part, a, depth + 1);
                    if (neg)
                        for (unsigned i = before; i < a->n; i++)
                            a->r[i].neg = !a->r[i].neg;
                }
                if (!ok || end == '\0')
                    break;
                start = c + 1;
            }
        }
        (void)save;
        free(inner);
        return ok;
    }
    struct net_range r;
    if (!addr_one(tok, &r))
        return rp_fail(p, "not an address: %s", tok);
    r.neg = neg;
    if (!GROW(p, a->r, a->n))
        return false;
    a->r[a->n++] = r;
    return true;
}

static bool port_one(const char *tok, struct port_range *r)
{
    unsigned long long lo, hi;
    const char *colon = strchr(tok, ':');
    if (!colon)
        return rp_uint(tok, 65535, &lo) && (r->lo = r->hi = (uint16_t)lo, true);
    char a[16] = "", b[16] = "";
    snprintf(a, sizeof a, "%.*s", (int)(colon - tok), tok);
    snprintf(b, sizeof b, "%s", colon + 1);
    lo = 0, hi = 65535;
    if ((*a && !rp_uint(a, 65535, &lo)) || (*b && !rp_uint(b, 65535, &hi)) || lo > hi)
        return false;
    r->lo = (uint16_t)lo, r->hi = (uint16_t)hi;
    return true;
}

static bool parse_ports(struct parse *p, const char *tok, struct port_spec *s)
{
    bool neg = false;
    while (*tok == '!')
        neg = !neg, tok++;
    if (strcmp(tok, "any") == 0 && !neg) {
        s->any = true;
        return true;
    }
    if (*tok == '$')
        return rp_fail(p, "port variables are not supported: %s", tok);
    char *list = strdup(tok);
    char *body = list;
    size_t n = strlen(body);
    if (*body == '[') {
        if (body[n - 1] != ']') {
            free(list);
            return rp_fail(p, "unbalanced [ in %s", tok);
        }
        body[n - 1] = '\0';
        body++;
    }
    char *save = NULL;
    for (char *t = strtok_r(body, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = rp_trim(t);
        bool tneg = neg;
        while (*t == '!')
            tneg = !tneg, t++;
        struct port_range r;
        if (!port_one(t, &r)) {
            rp_fail(p, "not a port or range: %s", t); /* t lives in list: report first */
            free(list);
            return false;
        }
        r.neg = tneg;
        if (!GROW(p, s->r, s->n)) {
            free(list);
            return false;
        }
        s->r[s->n++] = r;
    }
    free(list);
    if (s->n == 0)
        return rp_fail(p, "empty port list");
    return true;
}

/* Splits "name:value; name; ..." respecting quotes and escapes. */
static bool parse_options(struct parse *p, char *s)
{
    char *cur = s;
    while (*cur) {
        char *start = cur;
        bool quoted = false;
        while (*cur && (quoted || *cur != ';')) {
            if (*cur == '\\' && cur[1])
                cur++;
            else if (*cur == '"')
                quoted = !quoted;
            cur++;
        }
        if (quoted)
            return rp_fail(p, "unterminated quote");
        if (!*cur) {
            if (*rp_trim(start))
                return rp_fail(p, "option without a closing ';': %s", rp_trim(start));
            break;
        }
        *cur++ = '\0';
        char *opt = rp_trim(start);
        if (!*opt)
            continue;
        char *colon = NULL;
        for (char *c = opt; *c && *c != '"'; c++)
            if (*c == ':') {
                colon = c;
                break;
            }
        char *value = NULL;
        if (colon) {
            *colon = '\0';
            value = colon + 1;
        }
        if (!rule_option(p, rp_trim(opt), value))
            return false;
    }
    return true;
}

struct rule *rule_parse(const char *text, const char *file, unsigned line, char *err, size_t errlen)
{
    struct rule *r = calloc(1, sizeof *r);
    char *s = strdup(text);
    if (!r || !s) {
        free(r);
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->file = strdup(file ? file : "");
    r->line = line;
    r->transport = -1;
    r->sealed = -1;
    r->decrypted = -1;
    r->target = -1;
    r->route = -1;
    r->inferred = -1;
    r->auth_max = 255;
    r->info.gid = 1;
    r->info.rev = 1;
    struct parse p = {r, err, errlen, -1, NULL};
    char *open = NULL;
    bool quoted = false;
    for (char *c = s; *c; c++) {
        if (*c == '"')
            quoted = !quoted;
        if (*c == '(' && !quoted) {
            open = c;
            break;
        }
    }
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    bool ok = false;
    if (!open || n == 0 || s[n - 1] != ')') {
        rp_fail(&p, "expected: action proto src port -> dst port (options)");
        goto done;
    }
    s[n - 1] = '\0';
    *open = '\0';
    char *hdr[8];
    int nh = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, " \t", &save); t && nh < 8; t = strtok_r(NULL, " \t", &save))
        hdr[nh++] = t;
    if (nh != 7) {
        rp_fail(&p, "the header has %d fields, expected 7 (action proto src port -> dst port)", nh);
        goto done;
    }
    if (strcmp(hdr[0], "alert") == 0 || strcmp(hdr[0], "drop") == 0 ||
        strcmp(hdr[0], "reject") == 0 || strcmp(hdr[0], "rejectsrc") == 0 ||
        strcmp(hdr[0], "rejectdst") == 0 || strcmp(hdr[0], "rejectboth") == 0) {
        r->pass = false; /* a passive sensor alerts where an inline one would drop */
    } else if (strcmp(hdr[0], "pass") == 0) {
        r->pass = true;
    } else {
        rp_fail(&p, "unknown action %s", hdr[0]);
        goto done;
    }
    if (strcmp(hdr[1], "dcerpc") == 0)
        r->proto = RP_DCERPC;
    else if (strcmp(hdr[1], "smb") == 0)
        r->proto = RP_SMB;
    else if (strcmp(hdr[1], "tcp") == 0 || strcmp(hdr[1], "tcp-stream") == 0 ||
             strcmp(hdr[1], "tcp-pkt") == 0)
        r->proto = RP_TCP;
    else if (strcmp(hdr[1], "ip") == 0 || strcmp(hdr[1], "any") == 0)
        r->proto = RP_ANY;
    else {
        rp_fail(&p, "protocol %s: this sensor handles dcerpc, smb, tcp and ip", hdr[1]);
        goto done;
    }
    if (strcmp(hdr[4], "->") == 0)
        r->bidirectional = false;
    else if (strcmp(hdr[4], "<>") == 0)
        r->bidirectional = true;
    else {
        rp_fail(&p, "direction must be -> or <>, not %s", hdr[4]);
        goto done;
    }
    if (!parse_addr(&p, hdr[2], &r->src, 0) || !parse_ports(&p, hdr[3], &r->sp) ||
        !parse_addr(&p, hdr[5], &r->dst, 0) || !parse_ports(&p, hdr[6], &r->dp))
        goto done;
    if (!parse_options(&p, open + 1))
        goto done;
    if (!r->info.sid) {
        rp_fail(&p, "no sid");
        goto done;
    }
    if (!r->info.msg)
        r->info.msg = strdup("");
    /* relative patterns need something before them in their buffer */
    for (unsigned i = 0; i < r->n_pat; i++) {
        struct pattern *pt = &r->pat[i];
        bool first =
            i == 0 || r->pat[i - 1].buffer != pt->buffer || r->pat[i - 1].arg_path != pt->arg_path;
        if (pt->kind != PAT_CONTENT)
            continue;
        if (pt->relative && first)
            pt->relative = false; /* relative to the buffer's start: Suricata's reading */
        if (!pt->has_distance && !pt->has_within)
            pt->relative = false;
    }
    r->stream_rule = r->n_pat > 0 && !r->has_iface && !r->n_opnums && !r->classes &&
                     !r->n_if_names && !r->n_op_names && r->indicators == 0 && !r->story &&
                     !r->smb_file && !r->smb_tool;
    for (unsigned i = 0; i < r->n_pat && r->stream_rule; i++)
        if (r->pat[i].buffer != BUF_STREAM)
            r->stream_rule = false;
    if (!r->info.severity)
        r->info.severity = 3;
    output_alert_render(&r->info);
    ok = true;
done:
    free(s);
    if (!ok) {
        rule_free(r);
        return NULL;
    }
    return r;
}

void rule_free(struct rule *r)
{
    if (!r)
        return;
    free(r->file);
    free(r->src.r);
    free(r->dst.r);
    free(r->sp.r);
    free(r->dp.r);
    free(r->opnums);
    for (unsigned i = 0; i < r->n_if_names; i++)
        free(r->if_names[i]);
    free(r->if_names);
    for (unsigned i = 0; i < r->n_op_names; i++)
        free(r->op_names[i]);
    free(r->op_names);
    free(r->story);
    free(r->smb_file);
    free(r->smb_tool);
    for (unsigned i = 0; i < r->n_pat; i++) {
        if (r->pat[i].re)
            pcre2_code_free(r->pat[i].re);
        free(r->pat[i].bytes);
    }
    free(r->pat);
    for (unsigned i = 0; i < r->n_paths; i++)
        free(r->paths[i]);
    free(r->paths);
    free(r->info.msg);
    free(r->info.classtype);
    free(r->info.metadata);
    for (unsigned i = 0; i < r->info.n_refs; i++)
        free(r->info.references[i]);
    free(r->info.references);
    free(r->info.rendered[0]);
    free(r->info.rendered[1]);
    free(r);
}
