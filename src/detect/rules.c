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
#include "rpcsentry/iface.h"
#include "rpcsentry/names.h"

#define MAX_PATTERNS 32
#define MAX_LIST 64

struct parse {
    struct rule *r;
    char *err;
    size_t errlen;
    int buffer;           /* current sticky buffer, -1 = none yet */
    const char *arg_path; /* for BUF_ARG */
};

static bool fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct parse *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    return false;
}

/* Room for one more element after the n of arr (realloc'd in place); a rule error when
 * memory runs out, arr untouched. */
#define GROW(p, arr, n)                                                                            \
    __extension__({                                                                                \
        void *q_ = realloc((arr), ((n) + 1) * sizeof *(arr));                                      \
        q_ ? ((arr) = q_, true) : fail((p), "out of memory");                                      \
    })

static char *trim(char *s)
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
static bool unquote(struct parse *p, char *v, const char *what)
{
    bool content = strcmp(what, "content") == 0;
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return fail(p, "%s: the value must be in double quotes", what);
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

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
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

static bool parse_int(const char *s, long long lo, long long hi, int32_t *out)
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
        if (!parse_uint(slash + 1, 128, &b))
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
            return fail(p, "unknown address variable %s", tok);
        tok = v;
    }
    if (strcmp(tok, "any") == 0) {
        if (neg)
            return fail(p, "!any matches nothing");
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
            return fail(p, "address lists nested too deep");
        size_t n = strlen(tok);
        if (tok[n - 1] != ']')
            return fail(p, "unbalanced [ in %s", tok);
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
                part = trim(start);
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
        return fail(p, "not an address: %s", tok);
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
        return parse_uint(tok, 65535, &lo) && (r->lo = r->hi = (uint16_t)lo, true);
    char a[16] = "", b[16] = "";
    snprintf(a, sizeof a, "%.*s", (int)(colon - tok), tok);
    snprintf(b, sizeof b, "%s", colon + 1);
    lo = 0, hi = 65535;
    if ((*a && !parse_uint(a, 65535, &lo)) || (*b && !parse_uint(b, 65535, &hi)) || lo > hi)
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
        return fail(p, "port variables are not supported: %s", tok);
    char *list = strdup(tok);
    char *body = list;
    size_t n = strlen(body);
    if (*body == '[') {
        if (body[n - 1] != ']') {
            free(list);
            return fail(p, "unbalanced [ in %s", tok);
        }
        body[n - 1] = '\0';
        body++;
    }
    char *save = NULL;
    for (char *t = strtok_r(body, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        bool tneg = neg;
        while (*t == '!')
            tneg = !tneg, t++;
        struct port_range r;
        if (!port_one(t, &r)) {
            fail(p, "not a port or range: %s", t); /* t lives in list: report first */
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
        return fail(p, "empty port list");
    return true;
}

/* ---- patterns ---- */

static struct pattern *new_pattern(struct parse *p, enum pattern_kind kind)
{
    struct rule *r = p->r;
    if (r->n_pat >= MAX_PATTERNS)
        return fail(p, "more than %d content/pcre in one rule", MAX_PATTERNS), NULL;
    if (!GROW(p, r->pat, r->n_pat))
        return NULL;
    struct pattern *pt = &r->pat[r->n_pat++];
    memset(pt, 0, sizeof *pt);
    pt->kind = (uint8_t)kind;
    pt->offset = pt->depth = pt->distance = pt->within = -1;
    if (p->buffer < 0) {
        /* no sticky buffer: Suricata inspects the payload; ours is the stub (see README) */
        pt->buffer = BUF_STREAM;
    } else {
        pt->buffer = (uint8_t)p->buffer;
        pt->arg_path = p->arg_path;
    }
    return pt;
}

/* content:"text|41 42|text" into bytes. */
static bool parse_content(struct parse *p, char *v)
{
    bool neg = false;
    v = trim(v);
    if (*v == '!')
        neg = true, v = trim(v + 1);
    if (!unquote(p, v, "content"))
        return false;
    struct pattern *pt = new_pattern(p, PAT_CONTENT);
    if (!pt)
        return false;
    pt->negated = neg;
    pt->bytes = malloc(strlen(v) + 1); /* never more bytes than characters */
    if (!pt->bytes)
        return fail(p, "out of memory");
    bool hex = false;
    int nib = -1;
    for (char *c = v; *c; c++) {
        if (*c == '|') {
            if (hex && nib >= 0)
                return fail(p, "content: odd number of hex digits");
            hex = !hex;
            continue;
        }
        if (hex) {
            if (isspace((unsigned char)*c))
                continue;
            if (!isxdigit((unsigned char)*c))
                return fail(p, "content: '%c' in a hex section", *c);
            int d = isdigit((unsigned char)*c) ? *c - '0' : (tolower(*c) - 'a' + 10);
            if (nib < 0) {
                nib = d;
            } else {
                if (pt->len >= RULE_MAX_CONTENT)
                    return fail(p, "content longer than %d bytes", RULE_MAX_CONTENT);
                pt->bytes[pt->len++] = (uint8_t)(nib << 4 | d);
                nib = -1;
            }
            continue;
        }
        if (pt->len >= RULE_MAX_CONTENT)
            return fail(p, "content longer than %d bytes", RULE_MAX_CONTENT);
        pt->bytes[pt->len++] = (uint8_t)*c;
    }
    if (hex)
        return fail(p, "content: unclosed | hex section");
    if (pt->len == 0)
        return fail(p, "content is empty");
    return true;
}

static bool parse_pcre(struct parse *p, char *v)
{
    bool neg = false;
    v = trim(v);
    if (*v == '!')
        neg = true, v = trim(v + 1);
    if (!unquote(p, v, "pcre"))
        return false;
    if (v[0] != '/')
        return fail(p, "pcre: expected /regex/flags");
    char *end = strrchr(v, '/');
    if (end == v)
        return fail(p, "pcre: no closing /");
    *end = '\0';
    uint32_t opts = 0;
    bool relative = false;
    for (char *f = end + 1; *f; f++) {
        switch (*f) {
        case 'i': opts |= PCRE2_CASELESS; break;
        case 's': opts |= PCRE2_DOTALL; break;
        case 'm': opts |= PCRE2_MULTILINE; break;
        case 'x': opts |= PCRE2_EXTENDED; break;
        case 'A': opts |= PCRE2_ANCHORED; break;
        case 'E': opts |= PCRE2_DOLLAR_ENDONLY; break;
        case 'G': opts |= PCRE2_UNGREEDY; break;
        case 'R': relative = true; break;
        case 'B':
        case 'O': break; /* rawbytes, match limits: no meaning here */
        default: return fail(p, "pcre: unknown flag '%c'", *f);
        }
    }
    struct pattern *pt = new_pattern(p, PAT_PCRE);
    if (!pt)
        return false;
    int errcode;
    PCRE2_SIZE erroff;
    pt->re =
        pcre2_compile((PCRE2_SPTR)(v + 1), PCRE2_ZERO_TERMINATED, opts, &errcode, &erroff, NULL);
    if (!pt->re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return fail(p, "pcre: %s at offset %zu", (char *)msg, (size_t)erroff);
    }
    pcre2_jit_compile(pt->re, PCRE2_JIT_COMPLETE);
    pt->negated = neg;
    pt->relative = relative;
    return true;
}

/* The last content/pcre, for modifiers. */
static struct pattern *last_pattern(struct parse *p, const char *mod)
{
    if (p->r->n_pat == 0)
        return fail(p, "%s without a preceding content", mod), NULL;
    return &p->r->pat[p->r->n_pat - 1];
}

static bool content_modifier(struct parse *p, const char *name, char *v)
{
    struct pattern *pt = last_pattern(p, name);
    if (!pt)
        return false;
    if (strcmp(name, "nocase") == 0) {
        if (pt->kind != PAT_CONTENT)
            return fail(p, "nocase applies to content, not pcre (use /i)");
        pt->nocase = true;
        return true;
    }
    if (pt->kind != PAT_CONTENT)
        return fail(p, "%s applies to content", name);
    if (strcmp(name, "endswith") == 0 || strcmp(name, "startswith") == 0) {
        if (strcmp(name, "startswith") == 0)
            pt->offset = 0, pt->depth = (int32_t)pt->len;
        else
            pt->endswith = true;
        return true;
    }
    if (!v)
        return fail(p, "%s needs a value", name);
    int32_t n;
    if (!parse_int(trim(v), -65535, 1 << 20, &n))
        return fail(p, "%s: not a number: %s", name, v);
    if (strcmp(name, "offset") == 0) {
        pt->offset = n;
    } else if (strcmp(name, "depth") == 0) {
        if (n < 1)
            return fail(p, "depth must be at least 1");
        pt->depth = n;
    } else if (strcmp(name, "distance") == 0) {
        pt->distance = n, pt->has_distance = true, pt->relative = true;
    } else if (strcmp(name, "within") == 0) {
        if (n < 1)
            return fail(p, "within must be at least 1");
        pt->within = n, pt->has_within = true, pt->relative = true;
    }
    return true;
}

static bool parse_byteop(struct parse *p, char kind, char *v)
{
    if (!v)
        return fail(p, "%s needs arguments", kind == 't' ? "byte_test" : "byte_jump");
    struct byteop b = {.kind = kind, .big = true}; /* Suricata reads big-endian by default */
    bool relative = false;
    char *save = NULL;
    char *t[16];
    int n = 0;
    for (char *tok = strtok_r(v, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
        t[n++] = trim(tok);
    int need = kind == 't' ? 4 : 2;
    if (n < need)
        return fail(p, "%s: too few arguments", kind == 't' ? "byte_test" : "byte_jump");
    unsigned long long nb;
    if (!parse_uint(t[0], 8, &nb) || nb == 0)
        return fail(p, "bytes to read must be 1..8");
    b.nbytes = (uint8_t)nb;
    int i = 1;
    if (kind == 't') {
        char *op = t[1];
        if (*op == '!')
            op++;
        b.op = (t[1][0] == '!') ? '!' : *op;
        if (!strchr("=<>&^", *op))
            return fail(p, "byte_test: unknown operator %s", t[1]);
        if (t[1][0] == '!' && *op != '=')
            return fail(p, "byte_test: only != is supported as a negation");
        unsigned long long val;
        if (!parse_uint(t[2], UINT64_MAX, &val))
            return fail(p, "byte_test: not a value: %s", t[2]);
        b.value = val;
        i = 3;
    }
    if (!parse_int(t[i], -65535, 65535, &b.offset))
        return fail(p, "not an offset: %s", t[i]);
    for (i++; i < n; i++) {
        if (strcmp(t[i], "relative") == 0)
            relative = true;
        else if (strcmp(t[i], "dce") == 0)
            b.dce = true;
        else if (strcmp(t[i], "big") == 0)
            b.big = true;
        else if (strcmp(t[i], "little") == 0)
            b.big = false;
        else if (strcmp(t[i], "string") == 0 || strcmp(t[i], "dec") == 0 ||
                 strcmp(t[i], "hex") == 0 || strcmp(t[i], "oct") == 0)
            return fail(p, "%s: string conversions are not supported", t[i]);
        else if (strncmp(t[i], "post_offset", 11) == 0) {
            if (!parse_int(trim(t[i] + 11), -65535, 65535, &b.post_offset))
                return fail(p, "byte_jump: bad post_offset");
        } else if (strcmp(t[i], "align") == 0 || strcmp(t[i], "from_beginning") == 0)
            return fail(p, "byte_jump: %s is not supported", t[i]);
        else
            return fail(p, "unknown byte_test/byte_jump option %s", t[i]);
    }
    struct pattern *pt = new_pattern(p, PAT_BYTEOP);
    if (!pt)
        return false;
    pt->relative = relative;
    pt->bo = b;
    return true;
}

/*
 * bsize: the sticky buffer's length. Forms: n, <n, >n, <=n, >=n, lo<>hi
 * (exclusive bounds, as Suricata).
 */
static bool parse_bsize(struct parse *p, char *v)
{
    if (!v)
        return fail(p, "bsize needs a value");
    if (p->buffer < 0)
        return fail(p, "bsize needs a sticky buffer before it (e.g. dcerpc.stub_data)");
    v = trim(v);
    unsigned long long a, b;
    uint64_t lo, hi;
    char *range = strstr(v, "<>");
    if (range) {
        *range = '\0';
        if (!parse_uint(v, UINT32_MAX, &a) || !parse_uint(range + 2, UINT32_MAX, &b) || b <= a + 1)
            return fail(p, "bsize: not a range lo<>hi with room between: %s<>%s", v, range + 2);
        lo = a + 1, hi = b - 1;
    } else if (*v == '<' || *v == '>') {
        bool eq = v[1] == '=';
        if (!parse_uint(v + 1 + eq, UINT32_MAX, &a))
            return fail(p, "bsize: not a number: %s", v);
        if (*v == '<' && !eq && a == 0)
            return fail(p, "bsize: <0 matches nothing");
        lo = *v == '>' ? a + !eq : 0;
        hi = *v == '<' ? a - !eq : UINT64_MAX;
    } else {
        if (*v == '=')
            v++;
        if (!parse_uint(v, UINT32_MAX, &a))
            return fail(p, "bsize: not a number: %s", v);
        lo = hi = a;
    }
    struct pattern *pt = new_pattern(p, PAT_BSIZE);
    if (!pt)
        return false;
    pt->size_lo = lo;
    pt->size_hi = hi;
    return true;
}

/* ---- keywords ---- */

static bool parse_iface(struct parse *p, char *v)
{
    struct rule *r = p->r;
    char *save = NULL;
    char *uuid = strtok_r(v, ",", &save);
    if (!uuid || !uuid_parse(trim(uuid), &r->iface))
        return fail(p, "dcerpc.iface: not a UUID: %s", uuid ? uuid : "");
    r->has_iface = true;
    for (char *t = strtok_r(NULL, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        if (strcmp(t, "any_frag") == 0)
            continue; /* requests are reassembled: every fragment is inspected */
        if (!strchr("<>=!", t[0]))
            return fail(p, "dcerpc.iface: expected <, >, = or ! before a version: %s", t);
        unsigned long long ver;
        if (!parse_uint(t + 1, 65535, &ver))
            return fail(p, "dcerpc.iface: not a version: %s", t + 1);
        r->iface_op = t[0];
        r->iface_ver = (uint16_t)ver;
    }
    return true;
}

static bool parse_opnum(struct parse *p, char *v)
{
    struct rule *r = p->r;
    v = trim(v);
    /* Suricata 9 also takes one comparison: >3, <5, >=2, <=7 */
    if (*v == '<' || *v == '>') {
        bool ge = v[1] == '=';
        unsigned long long n;
        if (!parse_uint(v + 1 + ge, 65535, &n))
            return fail(p, "dcerpc.opnum: not a number: %s", v);
        struct opnum_range rg = *v == '>' ? (struct opnum_range){(uint16_t)(n + !ge), 65535}
                                          : (struct opnum_range){0, (uint16_t)(n - !ge)};
        if ((*v == '>' && !ge && n == 65535) || (*v == '<' && !ge && n == 0))
            return fail(p, "dcerpc.opnum: %s matches nothing", v);
        if (!GROW(p, r->opnums, r->n_opnums))
            return false;
        r->opnums[r->n_opnums++] = rg;
        return true;
    }
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        unsigned long long lo, hi;
        char *dash = strchr(t, '-');
        if (dash) {
            *dash = '\0';
            if (!parse_uint(t, 65535, &lo) || !parse_uint(dash + 1, 65535, &hi) || lo > hi)
                return fail(p, "dcerpc.opnum: not a range: %s-%s", t, dash + 1);
        } else if (!parse_uint(t, 65535, &lo)) {
            return fail(p, "dcerpc.opnum: not a number: %s", t);
        } else {
            hi = lo;
        }
        if (r->n_opnums >= MAX_LIST)
            return fail(p, "dcerpc.opnum: too many values");
        if (!GROW(p, r->opnums, r->n_opnums))
            return false;
        r->opnums[r->n_opnums++] = (struct opnum_range){(uint16_t)lo, (uint16_t)hi};
    }
    if (r->n_opnums == 0)
        return fail(p, "dcerpc.opnum: empty");
    return true;
}

static bool parse_names(struct parse *p, char *v, char ***list, unsigned *n, const char *kw)
{
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        if (!*t)
            continue;
        if (*n >= MAX_LIST)
            return fail(p, "%s: too many values", kw);
        char *copy = strdup(t);
        if (!copy)
            return fail(p, "out of memory");
        if (!GROW(p, *list, *n)) {
            free(copy);
            return false;
        }
        (*list)[(*n)++] = copy;
    }
    if (*n == 0)
        return fail(p, "%s: no value", kw);
    return true;
}

static bool parse_class(struct parse *p, char *v)
{
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        int c;
        for (c = 0; c < RPC_CLASS_COUNT; c++)
            if (strcmp(t, rpc_class_name((enum rpc_class)c)) == 0)
                break;
        if (c == RPC_CLASS_COUNT)
            return fail(p,
                        "rpc.class: unknown class %s (read, create, modify, delete, "
                        "execute, other)",
                        t);
        p->r->classes |= 1u << c;
    }
    return true;
}

static bool parse_indicator(struct parse *p, char *v)
{
    const struct indicator_def *defs = indicator_table();
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        if (strcmp(t, "any") == 0) {
            p->r->indicators |= (1u << IND_COUNT) - 1;
            continue;
        }
        int i;
        for (i = 0; i < IND_COUNT; i++)
            if (strcmp(t, defs[i].name) == 0)
                break;
        if (i == IND_COUNT)
            return fail(p,
                        "rpc.indicator: unknown indicator %s (any, or one of the names "
                        "the records' indicators carry)",
                        t);
        p->r->indicators |= 1u << i;
    }
    return true;
}

static bool parse_bool_kw(struct parse *p, const char *kw, char *v, int *out)
{
    if (!v) {
        *out = 1;
        return true;
    }
    v = trim(v);
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
        *out = 0;
    else
        return fail(p, "%s: expected true or false", kw);
    return true;
}

static bool parse_auth_level(struct parse *p, char *v)
{
    v = trim(v);
    int op = 0;
    if (*v == '<' || *v == '>')
        op = *v++;
    bool eq = *v == '=';
    if (op && eq)
        v++;
    unsigned long long n = rpc_auth_level_of(v);
    if (!n && !parse_uint(v, 255, &n))
        return fail(p, "rpc.auth_level: not a level: %s", v);
    struct rule *r = p->r;
    r->auth_min = op == '>' ? (uint8_t)(n + !eq) : op == '<' ? 0 : (uint8_t)n;
    r->auth_max = op == '<' ? (uint8_t)(n - !eq) : op == '>' ? 255 : (uint8_t)n;
    return true;
}

/*
 * reference:type,value as Suricata 8 writes it: the type's URL prefix from
 * its reference.config, unless the value already names its scheme.
 */
static const struct {
    const char *type, *prefix;
} ref_types[] = {
    {"bugtraq", "https://www.securityfocus.com/bid/"},
    {"bid", "https://www.securityfocus.com/bid/"},
    {"cve", "https://cve.mitre.org/cgi-bin/cvename.cgi?name="},
    {"secunia", "https://www.secunia.com/advisories/"},
    {"arachNIDS", "https://www.whitehats.com/info/IDS"},
    {"McAfee", "https://vil.nai.com/vil/content/v_"},
    {"nessus", "https://cgi.nessus.org/plugins/dump.php3?id="},
    {"url", "https://"},
    {"et", "https://doc.emergingthreats.net/"},
    {"etpro", "https://doc.emergingthreatspro.com/"},
    {"telus", "https://"},
    {"osvdb", "https://osvdb.org/show/osvdb/"},
    {"threatexpert", "https://www.threatexpert.com/report.aspx?md5="},
    {"md5", "https://www.threatexpert.com/report.aspx?md5="},
    {"exploitdb", "https://www.exploit-db.com/exploits/"},
    {"openpacket", "https://www.openpacket.org/capture/grab/"},
    {"securitytracker", "https://securitytracker.com/id?"},
    {"xforce", "https://xforce.iss.net/xforce/xfdb/"},
    {"msft", "https://technet.microsoft.com/security/bulletin/"},
};

static char *reference_url(struct parse *p, char *v)
{
    char *comma = strchr(v, ',');
    *comma = '\0';
    char *type = trim(v), *value = trim(comma + 1);
    if (!*value)
        return fail(p, "reference: %s without a value", type), NULL;
    const char *prefix = NULL;
    for (size_t i = 0; i < sizeof ref_types / sizeof ref_types[0] && !prefix; i++)
        if (strcasecmp(type, ref_types[i].type) == 0)
            prefix = ref_types[i].prefix;
    if (!prefix)
        return fail(p, "reference: unknown type %s (url, cve, bugtraq, msft, ...)", type), NULL;
    if (strstr(value, "://"))
        prefix = "";
    size_t n = strlen(prefix) + strlen(value) + 1;
    char *url = malloc(n);
    if (url)
        snprintf(url, n, "%s%s", prefix, value);
    return url;
}

/* rpc.<shortcut> sticky buffers over decoded arguments. */
static const struct {
    const char *kw, *paths;
} arg_shortcuts[] = {
    {"rpc.task_command", ARGS(ARG_TASK_ACTIONS "." ARG_COMMAND) "|" ARGS(
                             ARG_TASK_ACTIONS "." ARG_ARGUMENTS) "|" ARGS(ARG_COMMAND)},
    {"rpc.task_path", ARGS(ARG_PATH) "|result.actual_path"},
    {"rpc.service_binary", ARGS(ARG_BINARY_PATH) "|" ARGS("failure_" ARG_ACTIONS "." ARG_COMMAND)},
    {"rpc.service_name", ARGS(ARG_SERVICE_NAME)},
    {"rpc.account", ARGS(ARG_START_NAME) "|args.task.principal.user_id|args.account|"
                                         "args.credentials.user|args.user"},
};

/* ---- the keywords: one setup function each, found through one table ---- */

static bool kw_msg(struct parse *p, const char *name, char *v, int arg)
{
    (void)arg;
    if (!unquote(p, trim(v), name))
        return false;
    free(p->r->info.msg);
    p->r->info.msg = strdup(v);
    return true;
}

/* sid, rev, gid, priority: arg says which */
enum { NUM_SID, NUM_REV, NUM_GID, NUM_PRIORITY };
static bool kw_number(struct parse *p, const char *name, char *v, int arg)
{
    struct alert_info *in = &p->r->info;
    unsigned long long n;
    if (!parse_uint(trim(v), UINT32_MAX, &n))
        return fail(p, "%s: not a number", name);
    if (arg == NUM_SID)
        in->sid = (uint32_t)n;
    else if (arg == NUM_REV)
        in->rev = (uint32_t)n;
    else if (arg == NUM_GID)
        in->gid = (uint32_t)n;
    else
        in->severity = (int)n;
    return true;
}

static bool kw_classtype(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    struct alert_info *in = &p->r->info;
    const char *cat;
    int prio;
    if (!classtype_lookup(trim(v), &cat, &prio))
        return fail(p, "classtype: unknown class %s", trim(v));
    free(in->classtype);
    in->classtype = strdup(trim(v));
    in->category = cat;
    if (!in->severity)
        in->severity = prio;
    return true;
}

static bool kw_metadata(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    struct alert_info *in = &p->r->info;
    size_t old = in->metadata ? strlen(in->metadata) : 0;
    char *m = realloc(in->metadata, old + strlen(v) + 3);
    if (!m)
        return fail(p, "out of memory");
    if (old)
        strcpy(m + old, ", ");
    strcpy(m + old + (old ? 2 : 0), trim(v));
    in->metadata = m;
    return true;
}

static bool kw_reference(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    struct alert_info *in = &p->r->info;
    if (!strchr(v, ','))
        return fail(p, "reference: expected type,value");
    char *url = reference_url(p, trim(v));
    if (!url)
        return false;
    if (!GROW(p, in->references, in->n_refs)) {
        free(url);
        return false;
    }
    in->references[in->n_refs++] = url;
    return true;
}

static bool kw_flow(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = trim(t);
        if (strcmp(t, "to_server") == 0 || strcmp(t, "from_client") == 0)
            p->r->flow = FLOW_TO_SERVER;
        else if (strcmp(t, "to_client") == 0 || strcmp(t, "from_server") == 0)
            p->r->flow = FLOW_TO_CLIENT;
        else if (strcmp(t, "established") && strcmp(t, "stateless") &&
                 strcmp(t, "not_established") && strcmp(t, "only_stream") && strcmp(t, "no_stream"))
            return fail(p, "flow: unknown option %s", t);
    }
    return true;
}

static bool kw_iface(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_iface(p, v);
}

static bool kw_opnum(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_opnum(p, v);
}

/* A sticky buffer (arg): what the content after it inspects. */
static bool kw_buffer(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)v;
    p->buffer = arg;
    return true;
}

/* rpc.interface / rpc.operation: a list of names, or without a value the sticky buffer. */
static bool kw_names(struct parse *p, const char *name, char *v, int arg)
{
    struct rule *r = p->r;
    if (!v) {
        p->buffer = arg;
        return true;
    }
    if (arg == BUF_INTERFACE)
        return parse_names(p, v, &r->if_names, &r->n_if_names, name);
    return parse_names(p, v, &r->op_names, &r->n_op_names, name);
}

static bool kw_arg(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    struct rule *r = p->r;
    if (!*trim(v))
        return fail(p, "rpc.arg needs a path (e.g. rpc.arg:args.binary_path)");
    p->buffer = BUF_ARG;
    char *path = strdup(trim(v));
    if (!path)
        return fail(p, "out of memory");
    if (!GROW(p, r->paths, r->n_paths)) {
        free(path);
        return false;
    }
    r->paths[r->n_paths++] = path;
    p->arg_path = r->paths[r->n_paths - 1];
    return true;
}

/* rpc.sealed, rpc.decrypted, rpc.inferred, rpc.target: arg says which */
enum { BOOL_SEALED, BOOL_DECRYPTED, BOOL_INFERRED, BOOL_TARGET };
static bool kw_bool(struct parse *p, const char *name, char *v, int arg)
{
    struct rule *r = p->r;
    return parse_bool_kw(p, name, v,
                         arg == BOOL_SEALED      ? &r->sealed
                         : arg == BOOL_DECRYPTED ? &r->decrypted
                         : arg == BOOL_INFERRED  ? &r->inferred
                                                 : &r->target);
}

static bool kw_class(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_class(p, v);
}

static bool kw_auth_level(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_auth_level(p, v);
}

static bool kw_indicator(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_indicator(p, v);
}

static bool kw_story(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    free(p->r->story);
    p->r->story = strdup(trim(v));
    return true;
}

static bool kw_transport(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    v = trim(v);
    if (strcmp(v, "ncacn_np") == 0 || strcmp(v, "smb") == 0)
        p->r->transport = RPC_TRANSPORT_NP;
    else if (strcmp(v, "ncacn_ip_tcp") == 0 || strcmp(v, "tcp") == 0)
        p->r->transport = RPC_TRANSPORT_TCP;
    else
        return fail(p, "rpc.transport: expected ncacn_np or ncacn_ip_tcp");
    return true;
}

static bool kw_content(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_content(p, v);
}

static bool kw_pcre(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_pcre(p, v);
}

static bool kw_modifier(struct parse *p, const char *name, char *v, int arg)
{
    (void)arg;
    return content_modifier(p, name, v);
}

static bool kw_bsize(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    return parse_bsize(p, v);
}

static bool kw_byteop(struct parse *p, const char *name, char *v, int arg)
{
    (void)name;
    return parse_byteop(p, (char)arg, v);
}

/* hints for Suricata's engine, or version gates we satisfy */
static bool kw_ignored(struct parse *p, const char *name, char *v, int arg)
{
    (void)p, (void)name, (void)v, (void)arg;
    return true;
}

/*
 * Every keyword: its name, the older spelling Suricata also reads (or NULL),
 * the error when it is given no value (after its name; NULL when it needs
 * none or its setup decides), its setup, and a parameter for that setup.
 */
static const struct keyword {
    const char *name, *alias;
    const char *missing;
    bool (*setup)(struct parse *p, const char *name, char *v, int arg);
    int arg;
} keywords[] = {
    {"msg", NULL, " needs a value", kw_msg, 0},
    {"sid", NULL, ": not a number", kw_number, NUM_SID},
    {"rev", NULL, ": not a number", kw_number, NUM_REV},
    {"gid", NULL, ": not a number", kw_number, NUM_GID},
    {"priority", NULL, ": not a number", kw_number, NUM_PRIORITY},
    {"classtype", NULL, ": unknown class ", kw_classtype, 0},
    {"metadata", NULL, " needs a value", kw_metadata, 0},
    {"reference", NULL, ": expected type,value", kw_reference, 0},
    {"flow", NULL, " needs a value", kw_flow, 0},
    {"dcerpc.iface", "dce_iface", " needs a UUID", kw_iface, 0},
    {"dcerpc.opnum", "dce_opnum", " needs a value", kw_opnum, 0},
    {"dcerpc.stub_data", "dce_stub_data", NULL, kw_buffer, BUF_STUB},
    {"rpc.named_pipe", NULL, NULL, kw_buffer, BUF_PIPE},
    {"rpc.user", NULL, NULL, kw_buffer, BUF_USER},
    {"rpc.interface", NULL, NULL, kw_names, BUF_INTERFACE},
    {"rpc.operation", NULL, NULL, kw_names, BUF_OPERATION},
    {"rpc.arg", NULL, " needs a path (e.g. rpc.arg:args.binary_path)", kw_arg, 0},
    {"rpc.sealed", NULL, NULL, kw_bool, BOOL_SEALED},
    {"rpc.decrypted", NULL, NULL, kw_bool, BOOL_DECRYPTED},
    {"rpc.inferred", NULL, NULL, kw_bool, BOOL_INFERRED},
    {"rpc.target", NULL, NULL, kw_bool, BOOL_TARGET},
    {"rpc.class", NULL, " needs a value", kw_class, 0},
    {"rpc.auth_level", NULL, " needs a value", kw_auth_level, 0},
    {"rpc.indicator", NULL, " needs a value", kw_indicator, 0},
    {"rpc.story", NULL, " needs a value", kw_story, 0},
    {"rpc.transport", NULL, " needs a value", kw_transport, 0},
    {"content", NULL, " needs a value", kw_content, 0},
    {"pcre", NULL, " needs a value", kw_pcre, 0},
    {"nocase", NULL, NULL, kw_modifier, 0},
    {"offset", NULL, NULL, kw_modifier, 0},
    {"depth", NULL, NULL, kw_modifier, 0},
    {"distance", NULL, NULL, kw_modifier, 0},
    {"within", NULL, NULL, kw_modifier, 0},
    {"endswith", NULL, NULL, kw_modifier, 0},
    {"startswith", NULL, NULL, kw_modifier, 0},
    {"bsize", NULL, NULL, kw_bsize, 0},
    {"byte_test", NULL, NULL, kw_byteop, 't'},
    {"byte_jump", NULL, NULL, kw_byteop, 'j'},
    {"fast_pattern", NULL, NULL, kw_ignored, 0},
    {"rawbytes", NULL, NULL, kw_ignored, 0},
    {"requires", NULL, NULL, kw_ignored, 0},
    {"target", NULL, NULL, kw_ignored, 0},
};

static bool parse_option(struct parse *p, char *name, char *v)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        const struct keyword *k = &keywords[i];
        if (strcmp(name, k->name) != 0 && !(k->alias && strcmp(name, k->alias) == 0))
            continue;
        if (!v && k->missing)
            return fail(p, "%s%s", name, k->missing);
        return k->setup(p, name, v, k->arg);
    }
    /* shortcuts for an argument's sticky buffer: rpc.binary_path, ... */
    for (size_t i = 0; i < sizeof arg_shortcuts / sizeof arg_shortcuts[0]; i++)
        if (strcmp(name, arg_shortcuts[i].kw) == 0) {
            p->buffer = BUF_ARG;
            p->arg_path = arg_shortcuts[i].paths;
            return true;
        }
    return fail(p, "unknown keyword %s", name);
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
            return fail(p, "unterminated quote");
        if (!*cur) {
            if (*trim(start))
                return fail(p, "option without a closing ';': %s", trim(start));
            break;
        }
        *cur++ = '\0';
        char *opt = trim(start);
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
        if (!parse_option(p, trim(opt), value))
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
        fail(&p, "expected: action proto src port -> dst port (options)");
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
        fail(&p, "the header has %d fields, expected 7 (action proto src port -> dst port)", nh);
        goto done;
    }
    if (strcmp(hdr[0], "alert") == 0 || strcmp(hdr[0], "drop") == 0 ||
        strcmp(hdr[0], "reject") == 0 || strcmp(hdr[0], "rejectsrc") == 0 ||
        strcmp(hdr[0], "rejectdst") == 0 || strcmp(hdr[0], "rejectboth") == 0) {
        r->pass = false; /* a passive sensor alerts where an inline one would drop */
    } else if (strcmp(hdr[0], "pass") == 0) {
        r->pass = true;
    } else {
        fail(&p, "unknown action %s", hdr[0]);
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
        fail(&p, "protocol %s: this sensor handles dcerpc, smb, tcp and ip", hdr[1]);
        goto done;
    }
    if (strcmp(hdr[4], "->") == 0)
        r->bidirectional = false;
    else if (strcmp(hdr[4], "<>") == 0)
        r->bidirectional = true;
    else {
        fail(&p, "direction must be -> or <>, not %s", hdr[4]);
        goto done;
    }
    if (!parse_addr(&p, hdr[2], &r->src, 0) || !parse_ports(&p, hdr[3], &r->sp) ||
        !parse_addr(&p, hdr[5], &r->dst, 0) || !parse_ports(&p, hdr[6], &r->dp))
        goto done;
    if (!parse_options(&p, open + 1))
        goto done;
    if (!r->info.sid) {
        fail(&p, "no sid");
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
                     !r->n_if_names && !r->n_op_names && r->indicators == 0 && !r->story;
    for (unsigned i = 0; i < r->n_pat && r->stream_rule; i++)
        if (r->pat[i].buffer != BUF_STREAM)
            r->stream_rule = false;
    if (!r->info.severity)
        r->info.severity = 3;
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
    free(r);
}
