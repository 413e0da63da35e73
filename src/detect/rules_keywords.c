/*
 * The rule options: content and pcre patterns with their modifiers, byte
 * tests, and every keyword, each with one setup function found through one
 * table {name, alias, missing-value message, setup, argument}. A little over
 * 800 lines: the table and the functions it names are read together.
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
#include "rules_parse.h"

/* ---- patterns ---- */

static struct pattern *new_pattern(struct parse *p, enum pattern_kind kind)
{
    struct rule *r = p->r;
    if (r->n_pat >= MAX_PATTERNS)
        return rp_fail(p, "more than %d content/pcre in one rule", MAX_PATTERNS), NULL;
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
    v = rp_trim(v);
    if (*v == '!')
        neg = true, v = rp_trim(v + 1);
    if (!rp_unquote(p, v, "content"))
        return false;
    struct pattern *pt = new_pattern(p, PAT_CONTENT);
    if (!pt)
        return false;
    pt->negated = neg;
    pt->bytes = malloc(strlen(v) + 1); /* never more bytes than characters */
    if (!pt->bytes)
        return rp_fail(p, "out of memory");
    bool hex = false;
    int nib = -1;
    for (char *c = v; *c; c++) {
        if (*c == '|') {
            if (hex && nib >= 0)
                return rp_fail(p, "content: odd number of hex digits");
            hex = !hex;
            continue;
        }
        if (hex) {
            if (isspace((unsigned char)*c))
                continue;
            if (!isxdigit((unsigned char)*c))
                return rp_fail(p, "content: '%c' in a hex section", *c);
            int d = isdigit((unsigned char)*c) ? *c - '0' : (tolower(*c) - 'a' + 10);
            if (nib < 0) {
                nib = d;
            } else {
                if (pt->len >= RULE_MAX_CONTENT)
                    return rp_fail(p, "content longer than %d bytes", RULE_MAX_CONTENT);
                pt->bytes[pt->len++] = (uint8_t)(nib << 4 | d);
                nib = -1;
            }
            continue;
        }
        if (pt->len >= RULE_MAX_CONTENT)
            return rp_fail(p, "content longer than %d bytes", RULE_MAX_CONTENT);
        pt->bytes[pt->len++] = (uint8_t)*c;
    }
    if (hex)
        return rp_fail(p, "content: unclosed | hex section");
    if (pt->len == 0)
        return rp_fail(p, "content is empty");
    return true;
}

static bool parse_pcre(struct parse *p, char *v)
{
    bool neg = false;
    v = rp_trim(v);
    if (*v == '!')
        neg = true, v = rp_trim(v + 1);
    if (!rp_unquote(p, v, "pcre"))
        return false;
    if (v[0] != '/')
        return rp_fail(p, "pcre: expected /regex/flags");
    char *end = strrchr(v, '/');
    if (end == v)
        return rp_fail(p, "pcre: no closing /");
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
        default: return rp_fail(p, "pcre: unknown flag '%c'", *f);
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
        return rp_fail(p, "pcre: %s at offset %zu", (char *)msg, (size_t)erroff);
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
        return rp_fail(p, "%s without a preceding content", mod), NULL;
    return &p->r->pat[p->r->n_pat - 1];
}

static bool content_modifier(struct parse *p, const char *name, char *v)
{
    struct pattern *pt = last_pattern(p, name);
    if (!pt)
        return false;
    if (strcmp(name, "nocase") == 0) {
        if (pt->kind != PAT_CONTENT)
            return rp_fail(p, "nocase applies to content, not pcre (use /i)");
        pt->nocase = true;
        return true;
    }
    if (pt->kind != PAT_CONTENT)
        return rp_fail(p, "%s applies to content", name);
    if (strcmp(name, "endswith") == 0 || strcmp(name, "startswith") == 0) {
        if (strcmp(name, "startswith") == 0)
            pt->offset = 0, pt->depth = (int32_t)pt->len;
        else
            pt->endswith = true;
        return true;
    }
    if (!v)
        return rp_fail(p, "%s needs a value", name);
    int32_t n;
    if (!rp_int(rp_trim(v), -65535, 1 << 20, &n))
        return rp_fail(p, "%s: not a number: %s", name, v);
    if (strcmp(name, "offset") == 0) {
        pt->offset = n;
    } else if (strcmp(name, "depth") == 0) {
        if (n < 1)
            return rp_fail(p, "depth must be at least 1");
        pt->depth = n;
    } else if (strcmp(name, "distance") == 0) {
        pt->distance = n, pt->has_distance = true, pt->relative = true;
    } else if (strcmp(name, "within") == 0) {
        if (n < 1)
            return rp_fail(p, "within must be at least 1");
        pt->within = n, pt->has_within = true, pt->relative = true;
    }
    return true;
}

static bool parse_byteop(struct parse *p, char kind, char *v)
{
    if (!v)
        return rp_fail(p, "%s needs arguments", kind == 't' ? "byte_test" : "byte_jump");
    struct byteop b = {.kind = kind, .big = true}; /* Suricata reads big-endian by default */
    bool relative = false;
    char *save = NULL;
    char *t[16];
    int n = 0;
    for (char *tok = strtok_r(v, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
        t[n++] = rp_trim(tok);
    int need = kind == 't' ? 4 : 2;
    if (n < need)
        return rp_fail(p, "%s: too few arguments", kind == 't' ? "byte_test" : "byte_jump");
    unsigned long long nb;
    if (!rp_uint(t[0], 8, &nb) || nb == 0)
        return rp_fail(p, "bytes to read must be 1..8");
    b.nbytes = (uint8_t)nb;
    int i = 1;
    if (kind == 't') {
        char *op = t[1];
        if (*op == '!')
            op++;
        b.op = (t[1][0] == '!') ? '!' : *op;
        if (!strchr("=<>&^", *op))
            return rp_fail(p, "byte_test: unknown operator %s", t[1]);
        if (t[1][0] == '!' && *op != '=')
            return rp_fail(p, "byte_test: only != is supported as a negation");
        unsigned long long val;
        if (!rp_uint(t[2], UINT64_MAX, &val))
            return rp_fail(p, "byte_test: not a value: %s", t[2]);
        b.value = val;
        i = 3;
    }
    if (!rp_int(t[i], -65535, 65535, &b.offset))
        return rp_fail(p, "not an offset: %s", t[i]);
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
            return rp_fail(p, "%s: string conversions are not supported", t[i]);
        else if (strncmp(t[i], "post_offset", 11) == 0) {
            if (!rp_int(rp_trim(t[i] + 11), -65535, 65535, &b.post_offset))
                return rp_fail(p, "byte_jump: bad post_offset");
        } else if (strcmp(t[i], "align") == 0 || strcmp(t[i], "from_beginning") == 0)
            return rp_fail(p, "byte_jump: %s is not supported", t[i]);
        else
            return rp_fail(p, "unknown byte_test/byte_jump option %s", t[i]);
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
        return rp_fail(p, "bsize needs a value");
    if (p->buffer < 0)
        return rp_fail(p, "bsize needs a sticky buffer before it (e.g. dcerpc.stub_data)");
    v = rp_trim(v);
    unsigned long long a, b;
    uint64_t lo, hi;
    char *range = strstr(v, "<>");
    if (range) {
        *range = '\0';
        if (!rp_uint(v, UINT32_MAX, &a) || !rp_uint(range + 2, UINT32_MAX, &b) || b <= a + 1)
            return rp_fail(p, "bsize: not a range lo<>hi with room between: %s<>%s", v, range + 2);
        lo = a + 1, hi = b - 1;
    } else if (*v == '<' || *v == '>') {
        bool eq = v[1] == '=';
        if (!rp_uint(v + 1 + eq, UINT32_MAX, &a))
            return rp_fail(p, "bsize: not a number: %s", v);
        if (*v == '<' && !eq && a == 0)
            return rp_fail(p, "bsize: <0 matches nothing");
        lo = *v == '>' ? a + !eq : 0;
        hi = *v == '<' ? a - !eq : UINT64_MAX;
    } else {
        if (*v == '=')
            v++;
        if (!rp_uint(v, UINT32_MAX, &a))
            return rp_fail(p, "bsize: not a number: %s", v);
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
    if (!uuid || !uuid_parse(rp_trim(uuid), &r->iface))
        return rp_fail(p, "dcerpc.iface: not a UUID: %s", uuid ? uuid : "");
    r->has_iface = true;
    for (char *t = strtok_r(NULL, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = rp_trim(t);
        if (strcmp(t, "any_frag") == 0)
            continue; /* requests are reassembled: every fragment is inspected */
        if (!strchr("<>=!", t[0]))
            return rp_fail(p, "dcerpc.iface: expected <, >, = or ! before a version: %s", t);
        unsigned long long ver;
        if (!rp_uint(t + 1, 65535, &ver))
            return rp_fail(p, "dcerpc.iface: not a version: %s", t + 1);
        r->iface_op = t[0];
        r->iface_ver = (uint16_t)ver;
    }
    return true;
}

static bool parse_opnum(struct parse *p, char *v)
{
    struct rule *r = p->r;
    v = rp_trim(v);
    /* Suricata 9 also takes one comparison: >3, <5, >=2, <=7 */
    if (*v == '<' || *v == '>') {
        bool ge = v[1] == '=';
        unsigned long long n;
        if (!rp_uint(v + 1 + ge, 65535, &n))
            return rp_fail(p, "dcerpc.opnum: not a number: %s", v);
        struct opnum_range rg = *v == '>' ? (struct opnum_range){(uint16_t)(n + !ge), 65535}
                                          : (struct opnum_range){0, (uint16_t)(n - !ge)};
        if ((*v == '>' && !ge && n == 65535) || (*v == '<' && !ge && n == 0))
            return rp_fail(p, "dcerpc.opnum: %s matches nothing", v);
        if (!GROW(p, r->opnums, r->n_opnums))
            return false;
        r->opnums[r->n_opnums++] = rg;
        return true;
    }
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = rp_trim(t);
        unsigned long long lo, hi;
        char *dash = strchr(t, '-');
        if (dash) {
            *dash = '\0';
            if (!rp_uint(t, 65535, &lo) || !rp_uint(dash + 1, 65535, &hi) || lo > hi)
                return rp_fail(p, "dcerpc.opnum: not a range: %s-%s", t, dash + 1);
        } else if (!rp_uint(t, 65535, &lo)) {
            return rp_fail(p, "dcerpc.opnum: not a number: %s", t);
        } else {
            hi = lo;
        }
        if (r->n_opnums >= MAX_LIST)
            return rp_fail(p, "dcerpc.opnum: too many values");
        if (!GROW(p, r->opnums, r->n_opnums))
            return false;
        r->opnums[r->n_opnums++] = (struct opnum_range){(uint16_t)lo, (uint16_t)hi};
    }
    if (r->n_opnums == 0)
        return rp_fail(p, "dcerpc.opnum: empty");
    return true;
}

static bool parse_names(struct parse *p, char *v, char ***list, unsigned *n, const char *kw)
{
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = rp_trim(t);
        if (!*t)
            continue;
        if (*n >= MAX_LIST)
            return rp_fail(p, "%s: too many values", kw);
        char *copy = strdup(t);
        if (!copy)
            return rp_fail(p, "out of memory");
        if (!GROW(p, *list, *n)) {
            free(copy);
            return false;
        }
        (*list)[(*n)++] = copy;
    }
    if (*n == 0)
        return rp_fail(p, "%s: no value", kw);
    return true;
}

static bool parse_class(struct parse *p, char *v)
{
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = rp_trim(t);
        int c;
        for (c = 0; c < RPC_CLASS_COUNT; c++)
            if (strcmp(t, rpc_class_name((enum rpc_class)c)) == 0)
                break;
        if (c == RPC_CLASS_COUNT)
            return rp_fail(p,
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
        t = rp_trim(t);
        if (strcmp(t, "any") == 0) {
            p->r->indicators |= (1u << IND_COUNT) - 1;
            continue;
        }
        if (strcmp(t, "command") == 0) { /* what runs, not how the task or service is kept */
            p->r->indicators |= ((1u << IND_COUNT) - 1) & ~(1u << IND_HIDDEN_TASK) &
                                ~(1u << IND_HIDDEN_SERVICE) & ~(1u << IND_HIVE_SAVED);
            continue;
        }
        int i;
        for (i = 0; i < IND_COUNT; i++)
            if (strcmp(t, defs[i].name) == 0)
                break;
        if (i == IND_COUNT)
            return rp_fail(p,
                           "rpc.indicator: unknown indicator %s (any, command, or one of the names "
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
    v = rp_trim(v);
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
        *out = 0;
    else
        return rp_fail(p, "%s: expected true or false", kw);
    return true;
}

static bool parse_auth_level(struct parse *p, char *v)
{
    v = rp_trim(v);
    int op = 0;
    if (*v == '<' || *v == '>')
        op = *v++;
    bool eq = *v == '=';
    if (op && eq)
        v++;
    unsigned long long n = rpc_auth_level_of(v);
    if (!n && !rp_uint(v, 255, &n))
        return rp_fail(p, "rpc.auth_level: not a level: %s", v);
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
    char *type = rp_trim(v), *value = rp_trim(comma + 1);
    if (!*value)
        return rp_fail(p, "reference: %s without a value", type), NULL;
    const char *prefix = NULL;
    for (size_t i = 0; i < sizeof ref_types / sizeof ref_types[0] && !prefix; i++)
        if (strcasecmp(type, ref_types[i].type) == 0)
            prefix = ref_types[i].prefix;
    if (!prefix)
        return rp_fail(p, "reference: unknown type %s (url, cve, bugtraq, msft, ...)", type), NULL;
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
    if (!rp_unquote(p, rp_trim(v), name))
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
    if (!rp_uint(rp_trim(v), UINT32_MAX, &n))
        return rp_fail(p, "%s: not a number", name);
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
    if (!classtype_lookup(rp_trim(v), &cat, &prio))
        return rp_fail(p, "classtype: unknown class %s", rp_trim(v));
    free(in->classtype);
    in->classtype = strdup(rp_trim(v));
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
        return rp_fail(p, "out of memory");
    if (old)
        strcpy(m + old, ", ");
    strcpy(m + old + (old ? 2 : 0), rp_trim(v));
    in->metadata = m;
    return true;
}

static bool kw_reference(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    struct alert_info *in = &p->r->info;
    if (!strchr(v, ','))
        return rp_fail(p, "reference: expected type,value");
    char *url = reference_url(p, rp_trim(v));
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
        t = rp_trim(t);
        if (strcmp(t, "to_server") == 0 || strcmp(t, "from_client") == 0)
            p->r->flow = FLOW_TO_SERVER;
        else if (strcmp(t, "to_client") == 0 || strcmp(t, "from_server") == 0)
            p->r->flow = FLOW_TO_CLIENT;
        else if (strcmp(t, "established") && strcmp(t, "stateless") &&
                 strcmp(t, "not_established") && strcmp(t, "only_stream") && strcmp(t, "no_stream"))
            return rp_fail(p, "flow: unknown option %s", t);
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
    if (!*rp_trim(v))
        return rp_fail(p, "rpc.arg needs a path (e.g. rpc.arg:args.binary_path)");
    p->buffer = BUF_ARG;
    char *path = strdup(rp_trim(v));
    if (!path)
        return rp_fail(p, "out of memory");
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
    p->r->story = strdup(rp_trim(v));
    return true;
}

/* rpc.smb_file:pe|script|any, rpc.smb_tool:<tool>|any: rules on SMB's fileinfo and smb
   records (files written, tools' pipes), not on calls. */
static bool kw_smb_file(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    v = rp_trim(v);
    if (strcmp(v, "pe") && strcmp(v, "script") && strcmp(v, "any"))
        return rp_fail(p, "rpc.smb_file: %s is not pe, script or any", v);
    free(p->r->smb_file);
    p->r->smb_file = strdup(v);
    return true;
}

static bool kw_smb_tool(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    free(p->r->smb_tool);
    p->r->smb_tool = strdup(rp_trim(v));
    return true;
}

static bool kw_transport(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    v = rp_trim(v);
    if (strcmp(v, "ncacn_np") == 0 || strcmp(v, "smb") == 0)
        p->r->transport = RPC_TRANSPORT_NP;
    else if (strcmp(v, "ncacn_ip_tcp") == 0 || strcmp(v, "tcp") == 0)
        p->r->transport = RPC_TRANSPORT_TCP;
    else
        return rp_fail(p, "rpc.transport: expected ncacn_np or ncacn_ip_tcp");
    return true;
}

/* rpc.route:registry: the call reached a service or a task another way than its API. */
static bool kw_route(struct parse *p, const char *name, char *v, int arg)
{
    (void)name, (void)arg;
    v = rp_trim(v);
    if (strcmp(v, "registry") == 0)
        p->r->route = RPC_ROUTE_REGISTRY;
    else
        return rp_fail(p, "rpc.route: expected registry");
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
    {"rpc.smb_file", NULL, " needs a value", kw_smb_file, 0},
    {"rpc.smb_tool", NULL, " needs a value", kw_smb_tool, 0},
    {"rpc.transport", NULL, " needs a value", kw_transport, 0},
    {"rpc.route", NULL, " needs a value", kw_route, 0},
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

bool rule_option(struct parse *p, char *name, char *v)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        const struct keyword *k = &keywords[i];
        if (strcmp(name, k->name) != 0 && !(k->alias && strcmp(name, k->alias) == 0))
            continue;
        if (!v && k->missing)
            return rp_fail(p, "%s%s", name, k->missing);
        return k->setup(p, name, v, k->arg);
    }
    /* shortcuts for an argument's sticky buffer: rpc.binary_path, ... */
    for (size_t i = 0; i < sizeof arg_shortcuts / sizeof arg_shortcuts[0]; i++)
        if (strcmp(name, arg_shortcuts[i].kw) == 0) {
            p->buffer = BUF_ARG;
            p->arg_path = arg_shortcuts[i].paths;
            return true;
        }
    return rp_fail(p, "unknown keyword %s", name);
}
