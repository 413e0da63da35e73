/*
 * Matching one rule against one call: the header (addresses, ports,
 * protocol), the keywords over the call record, then the patterns over
 * its buffers with Suricata's content semantics (offset/depth absolute,
 * distance/within relative to the previous match, bounded backtracking).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "detect_internal.h"
#include "rpcsentry/args.h"
#include "rpcsentry/catalog.h"

#define MAX_STEPS 4096 /* pattern tries per buffer: bounds backtracking */

/* ---- header ---- */

static bool addr_in(const struct addr_spec *a, const uint8_t *addr, uint8_t ipver)
{
    if (a->any)
        return true;
    bool any_pos = false, hit = false;
    for (unsigned i = 0; i < a->n; i++) {
        const struct net_range *r = &a->r[i];
        bool in = (r->ipver == 0 || r->ipver == ipver) && memcmp(addr, r->lo, 16) >= 0 &&
                  memcmp(addr, r->hi, 16) <= 0;
        if (r->neg && in)
            return false;
        if (!r->neg) {
            any_pos = true;
            hit |= in;
        }
    }
    return any_pos ? hit : true;
}

static bool port_in(const struct port_spec *s, uint16_t port)
{
    if (s->any)
        return true;
    bool any_pos = false, hit = false;
    for (unsigned i = 0; i < s->n; i++) {
        bool in = port >= s->r[i].lo && port <= s->r[i].hi;
        if (s->r[i].neg && in)
            return false;
        if (!s->r[i].neg) {
            any_pos = true;
            hit |= in;
        }
    }
    return any_pos ? hit : true;
}

bool rule_match_header(const struct rule *r, const struct flow_key *k, int src, bool to_client)
{
    int s = to_client ? 1 - src : src, d = 1 - s;
    if (addr_in(&r->src, k->addr[s], k->ipver) && port_in(&r->sp, k->port[s]) &&
        addr_in(&r->dst, k->addr[d], k->ipver) && port_in(&r->dp, k->port[d]))
        return true;
    return r->bidirectional && addr_in(&r->src, k->addr[d], k->ipver) &&
           port_in(&r->sp, k->port[d]) && addr_in(&r->dst, k->addr[s], k->ipver) &&
           port_in(&r->dp, k->port[s]);
}

static bool name_in(char *const *list, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (name && strcasecmp(list[i], name) == 0)
            return true;
    return false;
}

bool rule_match_call(const struct rule *r, const struct rpc_call *c, bool at_response)
{
    if (r->story || r->stream_rule || r->smb_file || r->smb_tool)
        return false;
    if ((r->flow == FLOW_TO_SERVER && at_response) || (r->flow == FLOW_TO_CLIENT && !at_response))
        return false;
    if (r->proto == RP_SMB && c->transport->kind != RPC_TRANSPORT_NP)
        return false;
    if (c->kind != RPC_KIND_REQUEST || c->req_ptype == RPC_PTYPE_NONE)
        return false;
    if (r->has_iface) {
        /* Suricata: only an accepted context, the one the request used, of that interface */
        if ((c->flags & RPC_F_CTX_UNKNOWN) || c->ctx.ack_result > 0 ||
            !uuid_eq(&c->ctx.uuid, &r->iface))
            return false;
        uint16_t v = c->ctx.ver_major;
        switch (r->iface_op) {
        case '<':
            if (!(v < r->iface_ver))
                return false;
            break;
        case '>':
            if (!(v > r->iface_ver))
                return false;
            break;
        case '=':
            if (v != r->iface_ver)
                return false;
            break;
        case '!':
            if (v == r->iface_ver)
                return false;
            break;
        default: break;
        }
    }
    if (r->n_opnums) {
        bool hit = false;
        for (unsigned i = 0; i < r->n_opnums && !hit; i++)
            hit = c->opnum >= r->opnums[i].lo && c->opnum <= r->opnums[i].hi;
        if (!hit)
            return false;
    }
    if (r->classes && !(r->classes & (1u << c->cls)))
        return false;
    if (r->n_if_names) {
        char u[UUID_STR_LEN];
        uuid_fmt(&c->ctx.uuid, u);
        if (!(c->iface && name_in(r->if_names, r->n_if_names, c->iface->name)) &&
            !(c->iface && name_in(r->if_names, r->n_if_names, c->iface->service)) &&
            !((!(c->flags & RPC_F_CTX_UNKNOWN) || (c->flags & RPC_F_IFACE_HINT)) &&
              name_in(r->if_names, r->n_if_names, u)))
            return false;
    }
    if (r->n_op_names && !(c->op && name_in(r->op_names, r->n_op_names, c->op->name)))
        return false;
    if (r->transport >= 0 && (int)c->transport->kind != r->transport)
        return false;
    if (r->inferred >= 0 && (((c->flags & RPC_F_CTX_UNKNOWN) && (c->flags & RPC_F_IFACE_HINT)) !=
                             0) != (r->inferred == 1))
        return false;
    if (r->sealed >= 0 && c->sealed != (r->sealed == 1))
        return false;
    if (r->decrypted >= 0 && c->decrypted != (r->decrypted == 1))
        return false;
    if (r->target >= 0 && iface_call_target(c) != (r->target == 1))
        return false;
    if (r->route >= 0 && c->route != r->route)
        return false;
    if (c->auth_level < r->auth_min || c->auth_level > r->auth_max)
        return false;
    if (r->indicators && !(r->indicators & c->indicators))
        return false;
    return rule_match_header(r, &c->transport->flow->key, c->client_ep, at_response);
}

/* ---- patterns ---- */

static bool eq_nocase(const uint8_t *a, const uint8_t *b, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        uint8_t x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return false;
    }
    return true;
}

/* First occurrence of needle (k bytes) in hay (n bytes), or NULL. */
static const uint8_t *find(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k,
                           bool nocase)
{
    if (k == 0 || k > n)
        return NULL;
    if (!nocase)
        return memmem(hay, n, needle, k);
    /* nocase: jump between the first byte's two cases, then compare */
    uint8_t lo = needle[0], up = needle[0];
    if (lo >= 'A' && lo <= 'Z')
        lo += 32;
    if (up >= 'a' && up <= 'z')
        up -= 32;
    const uint8_t *p = hay, *end = hay + n - k + 1;
    while (p < end) {
        const uint8_t *a = memchr(p, lo, (size_t)(end - p));
        const uint8_t *b = lo == up ? NULL : memchr(p, up, (size_t)((a ? a : end) - p));
        const uint8_t *c = b ? b : a;
        if (!c)
            return NULL;
        if (eq_nocase(c, needle, k))
            return c;
        p = c + 1;
    }
    return NULL;
}

struct mctx {
    const uint8_t *buf;
    size_t len;
    uint64_t whole; /* the buffer's length before any cap on what is kept */
    bool le;        /* the call's byte order, for `dce` byte operations */
    int steps;
};

static bool match_from(struct mctx *m, const struct pattern *p, unsigned n, size_t prev_end);

static bool byteop(struct mctx *m, const struct pattern *pt, const struct pattern *rest,
                   unsigned nrest, size_t prev_end)
{
    const struct byteop b = pt->bo;
    long long pos = (pt->relative ? (long long)prev_end : 0) + b.offset;
    if (pos < 0 || (size_t)pos + b.nbytes > m->len)
        return false;
    bool big = b.dce ? !m->le : b.big;
    uint64_t v = 0;
    for (unsigned i = 0; i < b.nbytes; i++) {
        unsigned k = big ? i : b.nbytes - 1 - i;
        v = v << 8 | m->buf[pos + k];
    }
    size_t end = (size_t)pos + b.nbytes;
    if (b.kind == 't') {
        bool ok;
        switch (b.op) {
        case '=': ok = v == b.value; break;
        case '!': ok = v != b.value; break;
        case '<': ok = v < b.value; break;
        case '>': ok = v > b.value; break;
        case '&': ok = (v & b.value) != 0; break;
        case '^': ok = (v ^ b.value) != 0; break;
        default: ok = false;
        }
        return ok && match_from(m, rest, nrest, pt->relative ? end : prev_end);
    }
    long long to = (long long)end + (long long)v + b.post_offset;
    if (to < 0 || (size_t)to > m->len)
        return false;
    return match_from(m, rest, nrest, (size_t)to);
}

/* Patterns p[0..n) against m's buffer, the previous match ending at prev_end. */
static bool match_from(struct mctx *m, const struct pattern *p, unsigned n, size_t prev_end)
{
    if (n == 0)
        return true;
    if (++m->steps > MAX_STEPS)
        return false;
    if (p->kind == PAT_BYTEOP)
        return byteop(m, p, p + 1, n - 1, prev_end);
    if (p->kind == PAT_BSIZE)
        return m->whole >= p->size_lo && m->whole <= p->size_hi &&
               match_from(m, p + 1, n - 1, prev_end);
    /* the region the pattern may occupy */
    long long start = 0, end = (long long)m->len;
    if (p->relative) {
        start = (long long)prev_end + (p->has_distance ? p->distance : 0);
        if (p->has_within)
            end = (long long)prev_end + (p->has_distance ? p->distance : 0) + p->within;
    } else {
        if (p->offset >= 0)
            start = p->offset;
        else if (p->has_distance)
            start = p->distance; /* distance on a buffer's first content counts from 0 */
        if (p->depth > 0)
            end = start + p->depth;
        else if (p->has_within)
            end = start + p->within;
    }
    if (start < 0)
        start = 0;
    if (end > (long long)m->len)
        end = (long long)m->len;
    if (p->kind == PAT_PCRE) {
        bool hit = false;
        size_t mend = 0;
        if (start <= end) {
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
            pcre2_match_context *mc = pcre2_match_context_create(NULL);
            pcre2_set_match_limit(mc, 100000);
            pcre2_set_depth_limit(mc, 1000);
            /* a relative pcre sees the buffer from the previous match on: its ^
             * anchors there, as in Suricata */
            int rc = md && mc
                         ? pcre2_match(p->re, m->buf + start, (size_t)(end - start), 0, 0, md, mc)
                         : -1;
            if (rc > 0) {
                hit = true;
                mend = (size_t)start + pcre2_get_ovector_pointer(md)[1];
            }
            pcre2_match_context_free(mc);
            pcre2_match_data_free(md);
        }
        if (p->negated)
            return !hit && match_from(m, p + 1, n - 1, prev_end);
        return hit && match_from(m, p + 1, n - 1, mend);
    }
    if (p->negated) {
        bool hit = false;
        if (start < end) {
            const uint8_t *f =
                find(m->buf + start, (size_t)(end - start), p->bytes, p->len, p->nocase);
            hit = f && (!p->endswith || f + p->len == m->buf + m->len);
        }
        return !hit && match_from(m, p + 1, n - 1, prev_end);
    }
    /* each occurrence in the region, until the rest matches after one */
    long long at = start;
    while (at < end) {
        const uint8_t *f = find(m->buf + at, (size_t)(end - at), p->bytes, p->len, p->nocase);
        if (!f)
            return false;
        size_t fend = (size_t)(f - m->buf) + p->len;
        if ((!p->endswith || fend == m->len) && match_from(m, p + 1, n - 1, fend))
            return true;
        if (m->steps > MAX_STEPS)
            return false;
        at = (f - m->buf) + 1;
    }
    return false;
}

/* The byte sources a pattern group can be matched against, one at a time. */
struct values {
    const uint8_t *v[32];
    size_t n[32];
    uint64_t whole[32];
    unsigned count;
};

static bool collect(const char *s, size_t n, void *ctx)
{
    struct values *vs = ctx;
    if (vs->count < 32) {
        vs->v[vs->count] = (const uint8_t *)s;
        vs->n[vs->count++] = n;
    }
    return false;
}

static void buffer_values(const struct pattern *p, const struct rpc_call *c, bool at_response,
                          struct values *vs, char *scratch, size_t scratch_len)
{
    vs->count = 0;
    memset(vs->whole, 0, sizeof vs->whole); /* 0: the length kept is the whole */
    switch (p->buffer) {
    case BUF_STUB:
    case BUF_STREAM:
        if (at_response && c->res_stub) {
            vs->v[0] = c->res_stub, vs->n[0] = c->res_stub_avail, vs->count = 1;
            vs->whole[0] = c->res_stub_len;
        } else if (!at_response && c->req_stub) {
            vs->v[0] = c->req_stub, vs->n[0] = c->req_stub_avail, vs->count = 1;
            vs->whole[0] = c->req_stub_len;
        }
        break;
    case BUF_PIPE:
        if (c->transport->pipe && c->transport->pipe[0]) {
            vs->v[0] = (const uint8_t *)c->transport->pipe;
            vs->n[0] = strlen(c->transport->pipe);
            vs->count = 1;
        }
        break;
    case BUF_USER:
        if (c->identity && c->identity->valid) {
            int k = snprintf(scratch, scratch_len, "%s%s%s", c->identity->domain,
                             c->identity->domain[0] ? "\\" : "", c->identity->user);
            vs->v[0] = (const uint8_t *)scratch;
            vs->n[0] = k > 0 ? ((size_t)k < scratch_len ? (size_t)k : scratch_len - 1) : 0;
            vs->count = 1;
        }
        break;
    case BUF_INTERFACE:
        if (c->iface) {
            vs->v[0] = (const uint8_t *)c->iface->name;
            vs->n[0] = strlen(c->iface->name);
            vs->count = 1;
        } else if (!(c->flags & RPC_F_CTX_UNKNOWN)) {
            uuid_fmt(&c->ctx.uuid, scratch);
            vs->v[0] = (const uint8_t *)scratch;
            vs->n[0] = strlen(scratch);
            vs->count = 1;
        }
        break;
    case BUF_OPERATION:
        if (c->op) {
            vs->v[0] = (const uint8_t *)c->op->name;
            vs->n[0] = strlen(c->op->name);
            vs->count = 1;
        }
        break;
    case BUF_ARG: {
        /* '|'-separated paths: every value at every path */
        const char *paths = p->arg_path;
        char one[128];
        while (paths && *paths) {
            const char *bar = strchr(paths, '|');
            size_t len = bar ? (size_t)(bar - paths) : strlen(paths);
            if (len < sizeof one) {
                memcpy(one, paths, len);
                one[len] = '\0';
                args_each(c->args, one, collect, vs);
            }
            paths += len + (bar ? 1 : 0);
        }
        break;
    }
    }
}

bool rule_match_patterns(const struct rule *r, const struct rpc_call *c, bool at_response)
{
    char scratch[2 * RPC_NAME_MAX + 2];
    unsigned i = 0;
    while (i < r->n_pat) {
        /* a group: consecutive patterns on the same buffer */
        unsigned j = i + 1;
        while (j < r->n_pat && r->pat[j].buffer == r->pat[i].buffer &&
               r->pat[j].arg_path == r->pat[i].arg_path)
            j++;
        struct values vs;
        buffer_values(&r->pat[i], c, at_response, &vs, scratch, sizeof scratch);
        bool hit = false;
        for (unsigned k = 0; k < vs.count && !hit; k++) {
            struct mctx m = {vs.v[k], vs.n[k], vs.whole[k] ? vs.whole[k] : vs.n[k], c->le, 0};
            hit = match_from(&m, &r->pat[i], j - i, 0);
        }
        if (vs.count == 0) {
            /* an absent buffer satisfies only a group of negations */
            hit = true;
            for (unsigned k = i; k < j; k++)
                if (!r->pat[k].negated)
                    hit = false;
        }
        if (!hit)
            return false;
        i = j;
    }
    return true;
}

bool rule_match_stream(const struct rule *r, const uint8_t *data, size_t len)
{
    struct mctx m = {data, len, len, true, 0};
    return match_from(&m, r->pat, r->n_pat, 0);
}
