/*
 * Zeek's dce_rpc.log, for pipelines built around Zeek: one line per call,
 * with Zeek's fields and names, as Zeek's JSON lines (--format zeek, with
 * community_id added: the key to join with Zeek's conn.log, whose uids are
 * Zeek's own) or as tab-separated text with Zeek's header (--format zeek-tsv).
 *
 * Fields: ts (the request's time), uid, id.orig_h/p, id.resp_h/p, rtt,
 * named_pipe (the bind_ack's secondary address, as Zeek takes it; else the
 * pipe, or the server port), endpoint, operation. endpoint and operation are
 * Zeek's names (zeek_names.c, from Zeek's consts.zeek) where Zeek has one,
 * else ours, else Zeek's unknown-UUID and unknown-OPNUM. Calls in Zeek's
 * DCE_RPC::ignored_operations are left out, as Zeek does, unless
 * --zeek-all-operations asks for them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output_internal.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/rpc_call.h"
#include "rpcsentry/sink.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"
#include "zeek_names.h"

static const char zeek_fields[] =
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\trtt\tnamed_pipe\tendpoint"
    "\toperation";
static const char zeek_types[] =
    "#types\ttime\tstring\taddr\tport\taddr\tport\tinterval\tstring\tstring\tstring";

static void now_stamp(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d-%H-%M-%S", &tm);
}

static void put(struct output_shared *sh, const char *line)
{
    for (size_t i = 0; i < sh->n_sinks; i++)
        if (sh->sinks[i]->types & (1u << EV_DCERPC))
            sh->sinks[i]->write(sh->sinks[i], line, strlen(line));
}

void zeek_begin(struct output *o)
{
    if (o->opts.format != FORMAT_ZEEK_TSV)
        return;
    char line[256], stamp[32];
    now_stamp(stamp, sizeof stamp);
    pthread_mutex_lock(&o->sh->lock);
    put(o->sh, "#separator \\x09");
    put(o->sh, "#set_separator\t,");
    put(o->sh, "#empty_field\t(empty)");
    put(o->sh, "#unset_field\t-");
    put(o->sh, "#path\tdce_rpc");
    snprintf(line, sizeof line, "#open\t%s", stamp);
    put(o->sh, line);
    put(o->sh, zeek_fields);
    put(o->sh, zeek_types);
    pthread_mutex_unlock(&o->sh->lock);
}

void zeek_end(struct output_shared *sh, enum output_format f)
{
    if (f != FORMAT_ZEEK_TSV)
        return;
    char line[64], stamp[32];
    now_stamp(stamp, sizeof stamp);
    snprintf(line, sizeof line, "#close\t%s", stamp);
    put(sh, line);
}

/* "C" and the flow id in base 62, as long as Zeek's: the same flow, the same uid. */
static void uid_of(uint64_t id, char out[24])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t v = id * 0x9e3779b97f4a7c15ull ^ (id >> 29); /* spread the bits */
    out[0] = 'C';
    for (int i = 1; i <= 17; i++) {
        out[i] = digits[v % 62];
        v /= 62;
        if (!v)
            v = id + (uint64_t)i * 0x2545f4914f6cdd1dull;
    }
    out[18] = '\0';
}

/* Zeek's ASCII writer: backslash and bytes outside printable ASCII as \xNN, "\\" for '\'. */
static size_t tsv_escape(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    if (!s || !*s)
        return (size_t)snprintf(out, cap, "(empty)");
    for (; *s && k + 5 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\\') {
            out[k++] = '\\';
            out[k++] = '\\';
        } else if (ch < 0x20 || ch >= 0x7f || ch == '\t') {
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", ch);
        } else {
            out[k++] = (char)ch;
        }
    }
    out[k] = '\0';
    return k;
}

static int iface_cmp(const void *key, const void *elem)
{
    return memcmp(key, ((const struct zeek_iface *)elem)->uuid.b, 16);
}

const struct zeek_iface *zeek_iface_find(const struct uuid *u)
{
    return bsearch(u->b, zeek_ifaces, zeek_n_ifaces, sizeof zeek_ifaces[0], iface_cmp);
}

static int op_cmp(const void *key, const void *elem)
{
    uint16_t a = *(const uint16_t *)key, b = ((const struct zeek_op *)elem)->opnum;
    return a < b ? -1 : a > b;
}

const struct zeek_op *zeek_op_find(const struct zeek_iface *z, uint16_t opnum)
{
    if (!z || !z->ops)
        return NULL;
    return bsearch(&opnum, z->ops, z->n_ops, sizeof z->ops[0], op_cmp);
}

static void named_pipe_of(const struct rpc_call *c, const struct flow_key *k, int resp, char *out,
                          size_t n)
{
    if (c->sec_addr && c->sec_addr[0])
        snprintf(out, n, "%s", c->sec_addr);
    else if (c->transport->kind == RPC_TRANSPORT_NP && c->transport->pipe && c->transport->pipe[0])
        snprintf(out, n, "\\PIPE\\%s", c->transport->pipe);
    else
        snprintf(out, n, "%u", k->port[resp]);
}

void zeek_call(struct worker *w, struct output *o, const struct rpc_call *c)
{
    if (c->kind != RPC_KIND_REQUEST)
        return;
    bool has_req = c->req_ptype != RPC_PTYPE_NONE, has_res = c->res_ptype != RPC_PTYPE_NONE;
    const struct zeek_iface *z = zeek_iface_find(&c->ctx.uuid);
    const struct zeek_op *zop = has_req ? zeek_op_find(z, c->opnum) : NULL;
    if (((zop && zop->ignored) || (z && z->all_ignored)) && !o->opts.zeek_all_operations)
        return; /* as Zeek's DCE_RPC::ignored_operations */
    const struct flow_ref *fr = c->transport->flow;
    const struct flow_key *k = &fr->key;
    int orig = fr->client != FLOW_CLIENT_UNKNOWN ? fr->client : c->client_ep;
    int resp = 1 - orig;
    char a[ADDR_STR_LEN], b[ADDR_STR_LEN], uid[24], pipe[64], endpoint[64], operation[96];
    addr_format(k->addr[orig], flow_key_alen(k), a);
    addr_format(k->addr[resp], flow_key_alen(k), b);
    uid_of(fr->flow_id, uid);
    named_pipe_of(c, k, resp, pipe, sizeof pipe);
    const struct iface_def *d = c->iface;
    if (z && z->endpoint) {
        snprintf(endpoint, sizeof endpoint, "%s", z->endpoint);
    } else if (d && d->service) {
        snprintf(endpoint, sizeof endpoint, "%s", d->service);
    } else {
        char u[UUID_STR_LEN];
        uuid_fmt(&c->ctx.uuid, u);
        snprintf(endpoint, sizeof endpoint, "unknown-%s", u);
    }
    const char *proc = d && c->op ? iface_suricata_procedure(d, c->op) : NULL;
    if (zop)
        snprintf(operation, sizeof operation, "%s", zop->name);
    else if (proc)
        snprintf(operation, sizeof operation, "%s", proc);
    else
        snprintf(operation, sizeof operation, "unknown-%u", c->opnum);
    uint64_t ts = has_req ? c->req_ts_us : c->res_ts_us;
    bool has_rtt = has_req && has_res && c->res_ts_us >= c->req_ts_us;
    uint64_t rtt = has_rtt ? c->res_ts_us - c->req_ts_us : 0;

    struct json *j = &o->j;
    json_reset(j);
    o->kind = -1;
    if (o->opts.format == FORMAT_ZEEK_TSV) {
        char ep[96], pp[160], op[200], rtts[32] = "-";
        tsv_escape(endpoint, ep, sizeof ep);
        tsv_escape(pipe, pp, sizeof pp);
        tsv_escape(operation, op, sizeof op);
        if (has_rtt)
            snprintf(rtts, sizeof rtts, "%llu.%06llu", (unsigned long long)(rtt / 1000000),
                     (unsigned long long)(rtt % 1000000));
        char line[768];
        int n = snprintf(line, sizeof line, "%llu.%06llu\t%s\t%s\t%u\t%s\t%u\t%s\t%s\t%s\t%s",
                         (unsigned long long)(ts / 1000000), (unsigned long long)(ts % 1000000),
                         uid, a, k->port[orig], b, k->port[resp], rtts, pp, ep, op);
        json_members(j, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : 0);
    } else {
        char num[48];
        json_obj_open(j, NULL);
        snprintf(num, sizeof num, "%llu.%06llu", (unsigned long long)(ts / 1000000),
                 (unsigned long long)(ts % 1000000));
        json_raw(j, "ts", num);
        json_str(j, "uid", uid);
        json_str(j, "id.orig_h", a);
        json_u64(j, "id.orig_p", k->port[orig]);
        json_str(j, "id.resp_h", b);
        json_u64(j, "id.resp_p", k->port[resp]);
        if (has_rtt) {
            snprintf(num, sizeof num, "%llu.%06llu", (unsigned long long)(rtt / 1000000),
                     (unsigned long long)(rtt % 1000000));
            json_raw(j, "rtt", num);
        }
        json_str(j, "named_pipe", pipe);
        json_str(j, "endpoint", endpoint);
        json_str(j, "operation", operation);
        char cid[40];
        community_id_v1(o->opts.community_id_seed, k->addr[orig], k->addr[resp],
                        (size_t)flow_key_alen(k), k->proto, k->port[orig], k->port[resp], cid);
        json_str(j, "community_id", cid);
        json_obj_close(j);
    }
    output_emit(w, o);
}
