/*
 * EVE JSON records: Suricata's common header and `dcerpc` object, plus the
 * `rpcsentry` extension object for everything Suricata's schema lacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rpcsentry/args.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/iface.h"
#include "rpcsentry/json.h"
#include "rpcsentry/appid.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/output.h"
#include "rpcsentry/sink.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"
#include "output_internal.h"

/* The file in the log directory: eve.json (or dce_rpc.log), or standard output for "-". */
static struct sink *open_log_dir_file(const struct output_opts *opts, const struct sink_env *env,
                                      char *err, size_t errlen)
{
    const char *dir = opts->log_dir ? opts->log_dir : ".";
    const char *name = opts->format != FORMAT_EVE ? "dce_rpc.log" : "eve.json";
    if (strcmp(dir, "-") == 0)
        return sink_file_open("-", env, err, errlen);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "log directory %s %s", dir,
                 stat(dir, &st) != 0 ? "does not exist" : "is not a directory");
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return sink_file_open(path, env, err, errlen);
}

/* Whether a file: or "-" sink already writes where s would (the same file, or stdout). */
static bool same_target(const struct output_shared *sh, const struct sink *s)
{
    struct stat a, b;
    bool s_out = strcmp(s->spec, "-") == 0;
    for (size_t i = 0; i < sh->n_sinks; i++) {
        const struct sink *o = sh->sinks[i];
        if (s_out || strcmp(o->spec, "-") == 0) {
            if (s_out && strcmp(o->spec, "-") == 0)
                return true;
            continue;
        }
        if (strncmp(o->spec, "file:", 5) || strncmp(s->spec, "file:", 5))
            continue;
        if (stat(o->spec + 5, &a) == 0 && stat(s->spec + 5, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino && strchr(o->spec, '?') == NULL)
            return true;
    }
    return false;
}

struct output *output_open(const struct output_opts *opts, char *err, size_t errlen)
{
    struct output *o = calloc(1, sizeof *o);
    struct output_shared *sh = calloc(1, sizeof *sh);
    if (!o || !sh) {
        free(o);
        free(sh);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    o->opts = *opts;
    o->opts.outputs = NULL; /* the specs need not outlive the call */
    o->sh = sh;
    pthread_mutex_init(&sh->lock, NULL);
    sh->views = 1;
    json_init(&o->j);
    size_t cap = opts->queue_cap ? opts->queue_cap : (size_t)16 << 20;
    struct sink_env env = {.lossless = opts->lossless,
                           .wait_s = opts->output_wait_s ? opts->output_wait_s : 30,
                           .stop = opts->stop};
    bool ok = true;
    if (opts->eve_path) {
        struct sink *s = sink_file_open(opts->eve_path, &env, err, errlen);
        if (s)
            sh->sinks[sh->n_sinks++] = s;
        ok = s != NULL;
    } else {
        for (size_t i = 0; i < opts->n_outputs && ok; i++) {
            if (sh->n_sinks == OUTPUT_MAX_SINKS) {
                snprintf(err, errlen, "at most %d outputs", OUTPUT_MAX_SINKS);
                ok = false;
                break;
            }
            struct sink *s = sink_open_spec(opts->outputs[i], opts->syslog_target,
                                            opts->syslog_tag, cap, &env, err, errlen);
            if (s)
                sh->sinks[sh->n_sinks++] = s;
            ok = s != NULL;
        }
        /* the log directory's file is kept beside -o outputs when a directory was named */
        if (ok && (!opts->n_outputs || opts->log_dir_set)) {
            struct sink *s = open_log_dir_file(opts, &env, err, errlen);
            if (s && !same_target(sh, s) && sh->n_sinks < OUTPUT_MAX_SINKS) {
                s->types = (1u << EV_KINDS) - 1;
                sh->sinks[sh->n_sinks++] = s;
            } else if (s) {
                if (sh->n_sinks == OUTPUT_MAX_SINKS) {
                    snprintf(err, errlen, "at most %d outputs", OUTPUT_MAX_SINKS);
                    ok = false;
                }
                s->close(s);
            }
            ok = ok && s != NULL;
        }
    }
    if (!ok) {
        for (size_t i = 0; i < sh->n_sinks; i++)
            sh->sinks[i]->close(sh->sinks[i]);
        json_free(&o->j);
        pthread_mutex_destroy(&sh->lock);
        free(sh);
        free(o);
        return NULL;
    }
    for (size_t i = 0; i < sh->n_sinks; i++)
        if (!sh->sinks[i]->types)
            sh->sinks[i]->types = (1u << EV_KINDS) - 1;
    zeek_begin(o);
    return o;
}

size_t output_describe(const struct output *o, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; o && i < o->sh->n_sinks && k + 1 < len; i++) {
        const char *spec = o->sh->sinks[i]->spec;
        int n = snprintf(buf + k, len - k, "%s%s", i ? ", " : "",
                         strcmp(spec, "-") == 0 ? "standard output" : spec);
        if (n < 0)
            break;
        k += (size_t)n;
    }
    return k < len ? k : len - 1;
}

void output_drain(struct output *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->sh->lock);
    for (size_t i = 0; i < o->sh->n_sinks; i++)
        o->sh->sinks[i]->drain(o->sh->sinks[i]);
    pthread_mutex_unlock(&o->sh->lock);
}

uint64_t output_undelivered(struct output *o)
{
    uint64_t lost = 0;
    if (!o)
        return 0;
    pthread_mutex_lock(&o->sh->lock);
    for (size_t i = 0; i < o->sh->n_sinks; i++)
        lost += atomic_load(&o->sh->sinks[i]->dropped);
    lost += atomic_load(&o->sh->unformatted);
    pthread_mutex_unlock(&o->sh->lock);
    return lost;
}

size_t output_sink_stats(struct output *o, struct output_sink_stats *st, size_t n)
{
    if (!o)
        return 0;
    pthread_mutex_lock(&o->sh->lock);
    size_t k = o->sh->n_sinks;
    for (size_t i = 0; i < k && i < n; i++) {
        snprintf(st[i].spec, sizeof st[i].spec, "%s", o->sh->sinks[i]->spec);
        st[i].written = atomic_load(&o->sh->sinks[i]->written);
        st[i].dropped = atomic_load(&o->sh->sinks[i]->dropped);
        st[i].failed = atomic_load(&o->sh->sinks[i]->failed);
        snprintf(st[i].why, sizeof st[i].why, "%s",
                 atomic_load(&o->sh->sinks[i]->why_set) ? o->sh->sinks[i]->why : "");
    }
    pthread_mutex_unlock(&o->sh->lock);
    return k;
}

struct output *output_view(struct output *base)
{
    struct output *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->opts = base->opts;
    o->sh = base->sh;
    json_init(&o->j);
    pthread_mutex_lock(&o->sh->lock);
    o->sh->views++;
    pthread_mutex_unlock(&o->sh->lock);
    return o;
}

void output_flush(struct output *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->sh->lock);
    for (size_t i = 0; i < o->sh->n_sinks; i++)
        o->sh->sinks[i]->flush(o->sh->sinks[i]);
    pthread_mutex_unlock(&o->sh->lock);
}

void output_reopen(struct output *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->sh->lock);
    for (size_t i = 0; i < o->sh->n_sinks; i++)
        if (o->sh->sinks[i]->reopen)
            o->sh->sinks[i]->reopen(o->sh->sinks[i]);
    pthread_mutex_unlock(&o->sh->lock);
}

void output_close(struct output *o)
{
    if (!o)
        return;
    struct output_shared *sh = o->sh;
    pthread_mutex_lock(&sh->lock);
    bool last = --sh->views == 0;
    pthread_mutex_unlock(&sh->lock);
    if (last) {
        zeek_end(sh, o->opts.format);
        for (size_t i = 0; i < sh->n_sinks; i++)
            sh->sinks[i]->close(sh->sinks[i]);
        pthread_mutex_destroy(&sh->lock);
        free(sh);
    }
    json_free(&o->j);
    free(o);
}

void output_emit(struct worker *w, struct output *o)
{
    if (o->j.oom) {
        w->stats.events_dropped++;
        atomic_fetch_add(&o->sh->unformatted, 1);
        return;
    }
    if (o->opts.format != FORMAT_EVE && o->kind != -1)
        return; /* Zeek's dce_rpc.log has calls only (zeek_call writes them, kind -1) */
    bool ok = false, wanted = false;
    uint32_t bit = o->kind >= 0 ? 1u << o->kind : (1u << EV_DCERPC);
    pthread_mutex_lock(&o->sh->lock);
    for (size_t i = 0; i < o->sh->n_sinks; i++) {
        struct sink *s = o->sh->sinks[i];
        if (!(s->types & bit))
            continue;
        wanted = true;
        ok |= s->write(s, o->j.buf, o->j.len);
    }
    pthread_mutex_unlock(&o->sh->lock);
    if (!wanted)
        return; /* no sink takes this kind: not a loss */
    if (ok)
        w->stats.events_written++;
    else
        w->stats.events_dropped++;
}

void eve_header(struct worker *w, struct output *o, const struct flow_ref *fr, int src_ep,
                uint64_t ts_us, uint64_t pcap_cnt, const char *event_type, const char *app_proto,
                char *cid)
{
    struct json *j = &o->j;
    char ts[TS_STR_LEN];
    enum event_kind kind = event_kind_of(event_type);
    o->kind = kind == EV_KINDS ? EV_DCERPC : (int)kind;
    json_reset(j);
    json_obj_open(j, NULL);
    ts_format(ts_us, ts);
    json_str(j, "timestamp", ts);
    if (fr)
        json_u64(j, "flow_id", fr->flow_id);
    if (o->opts.in_iface)
        json_str(j, "in_iface", o->opts.in_iface);
    if (o->opts.host)
        json_str(j, "host", o->opts.host);
    if (o->opts.with_filename && w->pcap_filename)
        json_str(j, "pcap_filename", w->pcap_filename);
    if (pcap_cnt)
        json_u64(j, "pcap_cnt", pcap_cnt);
    json_str(j, "event_type", event_type);
    if (!fr)
        return;
    const struct flow_key *k = &fr->key;
    int s = src_ep == 1 ? 1 : 0, d = 1 - s;
    struct header_cache *c = &o->hc[(fr->flow_id ^ (uint64_t)s) % HEADER_CACHE];
    if (!c->used || c->flow_id != fr->flow_id || c->src != s ||
        memcmp(&c->key, k, sizeof *k) != 0) {
        int alen = flow_key_alen(k);
        char a[ADDR_STR_LEN], b[ADDR_STR_LEN];
        addr_format(k->addr[s], alen, a);
        addr_format(k->addr[d], alen, b);
        /* at most 178 bytes: two IPv6 addresses of 45, ports of 5, the VLAN of 5 */
        char *t = c->tuple;
#define LIT(lit) (memcpy(t, lit, sizeof lit - 1), t += sizeof lit - 1)
        LIT("\"src_ip\":\"");
        t = stpcpy(t, a);
        LIT("\",\"src_port\":");
        t = dec_u64(t, k->port[s]);
        LIT(",\"dest_ip\":\"");
        t = stpcpy(t, b);
        LIT("\",\"dest_port\":");
        t = dec_u64(t, k->port[d]);
        if (k->proto == 6)
            LIT(",\"proto\":\"TCP\"");
        else if (k->proto == 17)
            LIT(",\"proto\":\"UDP\"");
        else
            LIT(",\"proto\":\"IP\"");
        if (k->vlan) {
            LIT(",\"vlan\":[");
            t = dec_u64(t, k->vlan);
            *t++ = ']';
        }
#undef LIT
        c->tuple_len = (uint16_t)(t - c->tuple);
        if (cid && cid[0]) { /* the same both ways: Community ID orders the endpoints */
            memcpy(c->cid, cid, COMMUNITY_ID_LEN);
        } else {
            community_id_v1(o->opts.community_id_seed, k->addr[s], k->addr[d], (size_t)alen,
                            k->proto, k->port[s], k->port[d], c->cid);
            if (cid)
                memcpy(cid, c->cid, COMMUNITY_ID_LEN);
        }
        c->key = *k;
        c->flow_id = fr->flow_id;
        c->src = (uint8_t)s;
        c->used = true;
    }
    json_members(j, c->tuple, c->tuple_len);
    if (app_proto)
        json_str(j, "app_proto", app_proto);
    json_str(j, "community_id", c->cid);
}

static const char *auth_type_name(uint8_t t)
{
    switch (t) {
    case 0: return "none";
    case 9: return "SPNEGO";
    case 10: return "NTLMSSP";
    case 14: return "SCHANNEL";
    case 16: return "Kerberos";
    case 68: return "Netlogon";
    case 255: return "default";
    default: return "unknown";
    }
}

static const char *auth_level_name(uint8_t l)
{
    switch (l) {
    case 1: return "none";
    case 2: return "connect";
    case 3: return "call";
    case 4: return "packet";
    case 5: return "packet_integrity";
    case 6: return "packet_privacy";
    default: return "unknown";
    }
}

static const char *syntax_name(uint8_t s)
{
    switch (s) {
    case RPC_SYNTAX_NDR: return "NDR";
    case RPC_SYNTAX_NDR64: return "NDR64";
    case RPC_SYNTAX_BTFN: return "bind_time_feature_negotiation";
    default: return "unknown";
    }
}

/* nca_s_* and common Win32 codes seen in faults. */
static const char *fault_name(uint32_t st)
{
    switch (st) {
    case 0x00000005: return "access_denied";
    case 0x000006f7: return "rpc_x_bad_stub_data";
    case 0x1c010002: return "nca_s_op_rng_error";
    case 0x1c010003: return "nca_s_unk_if";
    case 0x1c00001b: return "nca_s_unsupported_type";
    case 0x1c000009: return "nca_s_proto_error";
    case 0x1c00001c: return "nca_s_fault_remote_no_memory";
    case 0x1c010014: return "nca_s_server_too_busy";
    case 0x1c000001: return "nca_s_fault_int_div_by_zero";
    case 0x1c000011: return "nca_s_fault_context_mismatch";
    case 0x1c00000f: return "nca_s_fault_pipe_closed";
    default: return NULL;
    }
}

/* "maj.min" (out: at least 12 bytes). */
static void version_str(char *out, uint16_t maj, uint16_t min)
{
    char *o = dec_u64(out, maj);
    *o++ = '.';
    *dec_u64(o, min) = '\0';
}

static void write_iface_item(struct json *j, const struct rpc_ctx_item *it, const char *procedure)
{
    char u[UUID_STR_LEN], v[12];
    json_obj_open(j, NULL);
    uuid_fmt(&it->uuid, u);
    json_str(j, "uuid", u);
    version_str(v, it->ver_major, it->ver_minor);
    json_str(j, "version", v);
    if (it->ack_result >= 0)
        json_u64(j, "ack_result", (uint64_t)it->ack_result);
    if (it->iface)
        json_str(j, "service", it->iface->service);
    if (procedure)
        json_str(j, "procedure", procedure);
    json_obj_close(j);
}

static void write_dcerpc(struct json *j, const struct rpc_call *c, bool in_flight)
{
    json_obj_open(j, "dcerpc");
    if (c->req_ptype == RPC_PTYPE_NONE)
        json_str(j, "request", "REQUEST_LOST");
    else
        json_str(j, "request", dce_ptype_name(c->req_ptype));
    if (c->kind == RPC_KIND_REQUEST) {
        if (c->req_ptype != RPC_PTYPE_NONE) {
            json_obj_open(j, "req");
            json_u64(j, "opnum", c->opnum);
            json_u64(j, "frag_cnt", c->req_frags);
            json_u64(j, "stub_data_size", c->req_stub_len);
            json_obj_close(j);
        }
        if (!(c->flags & RPC_F_CTX_UNKNOWN) || (c->flags & RPC_F_IFACE_HINT)) {
            json_arr_open(j, "interfaces");
            write_iface_item(j, &c->ctx,
                             c->op ? iface_suricata_procedure(c->iface, c->op) : NULL);
            json_arr_close(j);
        }
    } else if (c->n_items) {
        json_arr_open(j, "interfaces");
        for (uint16_t i = 0; i < c->n_items; i++)
            write_iface_item(j, &c->items[i], NULL);
        json_arr_close(j);
    }
    if (in_flight)
        ; /* an alert on a request: the answer is not known yet */
    else if (c->res_ptype == RPC_PTYPE_NONE)
        json_str(j, "response", "UNREPLIED");
    else
        json_str(j, "response", dce_ptype_name(c->res_ptype));
    if (c->res_ptype == DCE_RESPONSE) {
        json_obj_open(j, "res");
        json_u64(j, "frag_cnt", c->res_frags);
        json_u64(j, "stub_data_size", c->res_stub_len);
        json_obj_close(j);
    }
    json_u64(j, "call_id", c->call_id);
    char v[12];
    version_str(v, 5, c->rpc_vers_minor);
    json_str(j, "rpc_version", v);
    json_obj_close(j);
}

static const char *attack_for(const struct rpc_call *c)
{
    if (!c->iface || !c->iface->target || !c->iface->attack)
        return NULL;
    switch (c->cls) {
    case RPC_CLASS_CREATE:
    case RPC_CLASS_MODIFY:
    case RPC_CLASS_DELETE:
        return c->iface->attack;
    case RPC_CLASS_EXECUTE:
        /* starting a service is System Services: Service Execution */
        return strcmp(c->iface->service, "svcctl") == 0 ? "T1569.002" : c->iface->attack;
    default:
        return NULL;
    }
}

static void write_auth(struct json *j, const struct rpc_call *c)
{
    const struct rpc_identity *id = c->identity;
    if (!c->auth_type && !c->auth_level && !(id && id->valid))
        return;
    json_obj_open(j, "auth");
    if (c->auth_type || c->auth_level) {
        json_str(j, "type", auth_type_name(c->auth_type));
        json_str(j, "level", auth_level_name(c->auth_level));
        json_u64(j, "level_id", c->auth_level);
    }
    if (id && id->valid) {
        json_str(j, "user", id->user);
        if (id->domain[0])
            json_str(j, "domain", id->domain);
        if (id->host[0])
            json_str(j, "host", id->host);
    }
    json_obj_close(j);
}

static void write_flags(struct json *j, uint32_t f)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {{RPC_F_MIDSTREAM, "midstream"},       {RPC_F_GAP, "gap"},
                 {RPC_F_STUB_TRUNC, "stub_truncated"}, {RPC_F_GIVEN_UP, "given_up"},
                 {RPC_F_CTX_UNKNOWN, "context_unknown"}, {RPC_F_IFACE_HINT, "interface_inferred"},
                 {RPC_F_OVERLAP, "stream_overlap"}, {RPC_F_ARGS_MEMCAP, "args_memcap"},
                 {RPC_F_IFACE_EPM, "interface_from_endpoint_mapper"}};
    if (!f)
        return;
    json_arr_open(j, "flags");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (f & names[i].bit)
            json_str(j, NULL, names[i].name);
    json_arr_close(j);
}

/* One node of the decoded-argument tree (trees are a few levels deep by construction). */
static void write_arg(struct json *j, const struct rpc_args *a, uint16_t i, bool keyed)
{
    const struct rpc_arg *n = &a->node[i];
    const char *key = keyed ? n->name : NULL;
    switch (n->type) {
    case ARG_OBJ:
    case ARG_ARR:
        if (n->type == ARG_OBJ)
            json_obj_open(j, key);
        else
            json_arr_open(j, key);
        for (uint16_t k = n->first; k != ARGS_NONE; k = a->node[k].next)
            write_arg(j, a, k, n->type == ARG_OBJ);
        if (n->type == ARG_OBJ)
            json_obj_close(j);
        else
            json_arr_close(j);
        break;
    case ARG_STR: json_strn(j, key, a->arena + n->off, n->len); break;
    case ARG_NUM: json_u64(j, key, n->num); break;
    case ARG_BOOL: json_bool(j, key, n->num != 0); break;
    }
}

static void write_decoded(struct json *j, const struct rpc_call *c)
{
    const struct rpc_args *a = c->args;
    uint16_t args = a ? args_child(a, 0, "args") : ARGS_NONE;
    uint16_t result = a ? args_child(a, 0, "result") : ARGS_NONE;
    uint16_t ind = a ? args_child(a, 0, "indicators") : ARGS_NONE;
    if (args != ARGS_NONE)
        write_arg(j, a, args, true);
    if (c->has_status || result != ARGS_NONE) {
        json_obj_open(j, "result");
        if (c->has_status) {
            char code[HEX32_STR_LEN];
            hex32_str(code, c->status);
            const char *name = c->status == 0 && c->iface && c->iface->returns_hresult
                                   ? "S_OK"
                                   : iface_status_name(c->status);
            json_str(j, "status", name ? name : code);
            json_str(j, "status_code", code);
            json_bool(j, "success", c->status == 0);
        }
        if (result != ARGS_NONE)
            for (uint16_t k = a->node[result].first; k != ARGS_NONE; k = a->node[k].next)
                write_arg(j, a, k, true);
        json_obj_close(j);
    }
    if (ind != ARGS_NONE)
        write_arg(j, a, ind, true);
    if (a && a->truncated)
        json_bool(j, "args_truncated", true);
}

static void write_extension(struct json *j, const struct rpc_call *c)
{
    char u[UUID_STR_LEN], ts[TS_STR_LEN];
    json_obj_open(j, "rpcsentry");
    if (c->kind == RPC_KIND_REQUEST) {
        if (c->iface) {
            json_str(j, "interface", c->iface->name);
        } else if (!(c->flags & RPC_F_CTX_UNKNOWN)) {
            uuid_fmt(&c->ctx.uuid, u);
            json_str(j, "interface", u);
        }
        if (c->op)
            json_str(j, "operation", c->op->name);
        if (c->req_ptype != RPC_PTYPE_NONE) {
            json_u64(j, "opnum", c->opnum);
            json_str(j, "class", rpc_class_name(c->cls));
            if (c->class_detail)
                json_str(j, "class_detail", c->class_detail);
        }
        json_bool(j, "target", c->iface && c->iface->target);
        const char *attack = attack_for(c);
        if (attack) {
            json_arr_open(j, "attack");
            json_str(j, NULL, attack);
            json_arr_close(j);
        }
        json_u64(j, "context_id", c->ctx_id);
        if (c->has_object) {
            uuid_fmt(&c->object, u);
            json_str(j, "object", u);
        }
        if (!(c->flags & RPC_F_CTX_UNKNOWN))
            json_str(j, "syntax", syntax_name(c->ctx.syntax));
    } else {
        json_arr_open(j, "interfaces");
        for (uint16_t i = 0; i < c->n_items; i++) {
            const struct rpc_ctx_item *it = &c->items[i];
            json_obj_open(j, NULL);
            json_u64(j, "context_id", it->ctx_id);
            if (it->ack_result >= 0)
                json_u64(j, "ack_reason", it->ack_reason);
            if (it->iface)
                json_str(j, "name", it->iface->name);
            json_bool(j, "target", it->iface && it->iface->target);
            json_str(j, "syntax", syntax_name(it->syntax));
            json_obj_close(j);
        }
        json_arr_close(j);
    }
    json_str(j, "transport", rpc_transport_name(c->transport->kind));
    if (c->transport->kind == RPC_TRANSPORT_NP) {
        json_str(j, "named_pipe", c->transport->pipe ? c->transport->pipe : "");
        if (c->transport->share)
            json_str(j, "share", c->transport->share);
        if (c->kind == RPC_KIND_REQUEST && !c->iface && c->transport->iface_candidates) {
            json_arr_open(j, "interface_candidates");
            const char *p = c->transport->iface_candidates;
            while (*p) {
                const char *sp = strchr(p, ' ');
                size_t n = sp ? (size_t)(sp - p) : strlen(p);
                json_strn(j, NULL, p, n);
                p += n + (sp ? 1 : 0);
            }
            json_arr_close(j);
        }
    }
    write_auth(j, c);
    json_bool(j, "sealed", c->sealed);
    if (c->res_ptype == DCE_FAULT) {
        char st[HEX32_STR_LEN];
        hex32_str(st, c->fault_status);
        json_obj_open(j, "fault");
        json_str(j, "status", st);
        const char *fn = fault_name(c->fault_status);
        if (fn)
            json_str(j, "name", fn);
        json_obj_close(j);
    }
    if (c->kind == RPC_KIND_REQUEST)
        write_decoded(j, c);
    if (c->req_ptype != RPC_PTYPE_NONE) {
        ts_format(c->req_ts_us, ts);
        json_str(j, "request_time", ts);
        json_u64(j, "request_pcap_cnt", c->req_pcap_cnt);
    }
    if (c->res_ptype != RPC_PTYPE_NONE)
        json_u64(j, "response_pcap_cnt", c->res_pcap_cnt);
    write_flags(j, c->flags);
    json_obj_close(j);
}

/* Suricata's `smb` object, for calls that rode a named pipe. */
static void write_smb(struct json *j, const struct rpc_call *c)
{
    const struct rpc_transport *t = c->transport;
    json_obj_open(j, "smb");
    if (t->smb_dialect)
        json_str(j, "dialect", t->smb_dialect);
    json_u64(j, "session_id", t->smb_session_id);
    json_u64(j, "tree_id", t->smb_tree_id);
    if (t->share)
        json_str(j, "share", t->share);
    json_str(j, "share_type", "PIPE");
    if (t->pipe && t->pipe[0])
        json_str(j, "filename", t->pipe);
    const struct rpc_identity *id = t->smb_identity;
    if (id && id->valid) {
        json_obj_open(j, "ntlmssp");
        json_str(j, "domain", id->domain);
        json_str(j, "user", id->user);
        json_str(j, "host", id->host);
        json_obj_close(j);
    }
    json_obj_close(j);
}

static const char *app_proto_of(const struct rpc_call *c)
{
    return c->transport->kind == RPC_TRANSPORT_NP ? "smb" : "dcerpc";
}

void output_call(struct worker *w, const struct rpc_call *c)
{
    struct output *o = w->out;
    if (!o)
        return;
    if (o->opts.format != FORMAT_EVE) {
        zeek_call(w, o, c);
        return;
    }
    if (c->kind != RPC_KIND_REQUEST && !o->opts.log_binds)
        return;
    /* Answered: stamped with the response, as Suricata does. Unanswered: with the request. */
    bool answered = c->res_ptype != RPC_PTYPE_NONE;
    uint64_t ts = answered ? c->res_ts_us : c->req_ts_us;
    uint64_t cnt = answered ? c->res_pcap_cnt : c->req_pcap_cnt;
    eve_header(w, o, c->transport->flow, c->client_ep, ts, cnt, "dcerpc", app_proto_of(c),
               c->transport->community_id);
    json_u64(&o->j, "tx_id", c->tx_id);
    write_dcerpc(&o->j, c, false);
    if (c->transport->kind == RPC_TRANSPORT_NP)
        write_smb(&o->j, c);
    if (!o->opts.compat)
        write_extension(&o->j, c);
    json_obj_close(&o->j);
    output_emit(w, o);
}

static const char *app_proto_of(const struct rpc_call *c);
static void write_smb(struct json *j, const struct rpc_call *c);

/* Suricata's `alert` object; metadata "k v, k v" becomes {"k": ["v", ...]}. */
static void write_alert(struct json *j, const struct alert_info *a, bool references)
{
    json_obj_open(j, "alert");
    json_str(j, "action", "allowed");
    json_u64(j, "gid", a->gid);
    json_u64(j, "signature_id", a->sid);
    json_u64(j, "rev", a->rev);
    json_str(j, "signature", a->msg);
    json_str(j, "category", a->category ? a->category : "");
    json_u64(j, "severity", (uint64_t)a->severity);
    if (a->metadata) {
        /* group the values of each key, keys in order of first appearance */
        char keys[32][64];
        int nk = 0;
        const char *p = a->metadata;
        json_obj_open(j, "metadata");
        while (*p && nk < 32) {
            while (*p == ' ' || *p == ',')
                p++;
            const char *k = p;
            while (*p && *p != ' ' && *p != ',')
                p++;
            size_t kl = (size_t)(p - k);
            if (!kl)
                break;
            bool seen = false;
            for (int i = 0; i < nk; i++)
                if (strlen(keys[i]) == kl && strncmp(keys[i], k, kl) == 0)
                    seen = true;
            if (!seen && kl < 64) {
                memcpy(keys[nk], k, kl);
                keys[nk][kl] = '\0';
                nk++;
            }
            while (*p && *p != ',')
                p++;
        }
        for (int i = 0; i < nk; i++) {
            json_arr_open(j, keys[i]);
            size_t kl = strlen(keys[i]);
            for (const char *q = a->metadata; *q;) {
                while (*q == ' ' || *q == ',')
                    q++;
                const char *k = q;
                while (*q && *q != ' ' && *q != ',')
                    q++;
                bool match = (size_t)(q - k) == kl && strncmp(k, keys[i], kl) == 0;
                while (*q == ' ')
                    q++;
                const char *v = q;
                while (*q && *q != ',')
                    q++;
                const char *ve = q;
                while (ve > v && ve[-1] == ' ')
                    ve--;
                if (match)
                    json_strn(j, NULL, v, (size_t)(ve - v));
            }
            json_arr_close(j);
        }
        json_obj_close(j);
    }
    if (a->n_refs && references) {
        json_arr_open(j, "references");
        for (unsigned i = 0; i < a->n_refs; i++)
            json_str(j, NULL, a->references[i]);
        json_arr_close(j);
    }
    json_obj_close(j);
}

void output_alert(struct worker *w, const struct rpc_call *c, const struct alert_info *a,
                  bool at_response)
{
    struct output *o = w->out;
    if (!o)
        return;
    int src = at_response ? 1 - c->client_ep : c->client_ep;
    uint64_t ts = at_response ? c->res_ts_us : c->req_ts_us;
    uint64_t cnt = at_response ? c->res_pcap_cnt : c->req_pcap_cnt;
    eve_header(w, o, c->transport->flow, src, ts, cnt, "alert", app_proto_of(c),
               c->transport->community_id);
    struct json *j = &o->j;
    json_u64(j, "tx_id", c->tx_id);
    json_str(j, "direction", at_response ? "to_client" : "to_server");
    write_alert(j, a, o->opts.alert_references);
    write_dcerpc(j, c, !at_response);
    if (c->transport->kind == RPC_TRANSPORT_NP)
        write_smb(j, c);
    if (!o->opts.compat)
        write_extension(j, c);
    json_obj_close(j);
    output_emit(w, o);
}

static void write_story(struct json *j, const struct rpc_story *s)
{
    char ts[TS_STR_LEN];
    json_obj_open(j, "rpcsentry");
    json_obj_open(j, "story");
    json_str(j, "kind", s->kind);
    json_str(j, "summary", s->summary);
    if (s->name[0])
        json_str(j, "name", s->name);
    if (s->detail[0])
        json_str(j, "detail", s->detail);
    if (s->user[0])
        json_str(j, "user", s->user);
    json_bool(j, "sealed", s->sealed);
    json_arr_open(j, "pieces");
    for (unsigned i = 0; i < s->n_pieces; i++) {
        const struct story_piece *p = &s->pieces[i];
        json_obj_open(j, NULL);
        ts_format(p->ts_us, ts);
        json_str(j, "timestamp", ts);
        json_str(j, "operation", p->operation);
        json_str(j, "class", rpc_class_name(p->cls));
        json_u64(j, "flow_id", p->flow_id);
        json_u64(j, "tx_id", p->tx_id);
        json_u64(j, "call_id", p->call_id);
        json_obj_close(j);
    }
    json_arr_close(j);
    json_obj_close(j);
    json_obj_close(j);
}

void output_story(struct worker *w, const struct rpc_story *s)
{
    struct output *o = w->out;
    if (!o)
        return;
    eve_header(w, o, &s->flow, s->client_ep, s->ts_us, s->pcap_cnt, "lateral_movement",
               s->over_smb ? "smb" : "dcerpc", NULL);
    if (!o->opts.compat)
        write_story(&o->j, s);
    json_obj_close(&o->j);
    output_emit(w, o);
}

void output_story_alert(struct worker *w, const struct rpc_story *s, const struct alert_info *a)
{
    struct output *o = w->out;
    if (!o)
        return;
    eve_header(w, o, &s->flow, s->client_ep, s->ts_us, s->pcap_cnt, "alert",
               s->over_smb ? "smb" : "dcerpc", NULL);
    json_str(&o->j, "direction", "to_server");
    write_alert(&o->j, a, o->opts.alert_references);
    if (!o->opts.compat)
        write_story(&o->j, s);
    json_obj_close(&o->j);
    output_emit(w, o);
}

void output_stream_alert(struct worker *w, const struct flow_ref *fr, int ep,
                         const struct alert_info *a)
{
    struct output *o = w->out;
    if (!o)
        return;
    eve_header(w, o, fr, ep, w->now_us, w->pcap_cnt, "alert", NULL, NULL);
    bool to_server = fr->client == FLOW_CLIENT_UNKNOWN ? true : ep == fr->client;
    json_str(&o->j, "direction", to_server ? "to_server" : "to_client");
    write_alert(&o->j, a, o->opts.alert_references);
    json_obj_close(&o->j);
    output_emit(w, o);
}

static void tcp_flags_str(uint8_t f, char out[3])
{
    *hex_u32(out, f, 2) = '\0';
}

void output_flow(struct worker *w, const struct flow *f, int reason)
{
    struct output *o = w->out;
    if (!o)
        return;
    /* the side that opened it is the source; unknown (mid-stream): the first seen */
    int client = f->ref.client == FLOW_CLIENT_UNKNOWN ? 0 : f->ref.client;
    int server = 1 - client;
    eve_header(w, o, &f->ref, client, f->first_us, 0, "flow", appid_app_proto(w, f), NULL);
    struct json *j = &o->j;
    char ts[TS_STR_LEN];
    json_obj_open(j, "flow");
    json_u64(j, "pkts_toserver", f->pkts[client]);
    json_u64(j, "pkts_toclient", f->pkts[server]);
    json_u64(j, "bytes_toserver", f->bytes[client]);
    json_u64(j, "bytes_toclient", f->bytes[server]);
    ts_format(f->first_us, ts);
    json_str(j, "start", ts);
    ts_format(f->last_us, ts);
    json_str(j, "end", ts);
    json_u64(j, "age", (f->last_us - f->first_us) / 1000000);
    bool tcp = f->ref.key.proto == 6;
    uint8_t all = (uint8_t)(f->flags_seen[0] | f->flags_seen[1]);
    const char *state = !tcp ? (f->pkts[server] ? "established" : "new")
                        : f->closed ? "closed"
                        : (f->flags_seen[client] & 0x10) && f->pkts[server] ? "established"
                                                                               : "new";
    json_str(j, "state", state);
    static const char *const reasons[] = {"timeout", "forced", "timeout", "shutdown"};
    json_str(j, "reason", reason >= 0 && reason < 4 ? reasons[reason] : "shutdown");
    json_bool(j, "alerted", f->alerted);
    json_obj_close(j);
    if (tcp) {
        char fl[3];
        json_obj_open(j, "tcp");
        tcp_flags_str(all, fl);
        json_str(j, "tcp_flags", fl);
        tcp_flags_str(f->flags_seen[client], fl);
        json_str(j, "tcp_flags_ts", fl);
        tcp_flags_str(f->flags_seen[server], fl);
        json_str(j, "tcp_flags_tc", fl);
        static const struct {
            uint8_t bit;
            const char *name;
        } bits[] = {{0x01, "fin"}, {0x02, "syn"}, {0x04, "rst"}, {0x08, "psh"},
                    {0x10, "ack"}, {0x20, "urg"}, {0x40, "ecn"}, {0x80, "cwr"}};
        for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
            if (all & bits[i].bit)
                json_bool(j, bits[i].name, true);
        json_obj_close(j);
    }
    char name[64];
    const char *category = NULL;
    bool guessed = false;
    if (appid_ndpi(w, f, name, sizeof name, &category, &guessed)) {
        /* Suricata's nDPI plugin has this object; its content is nDPI's own */
        json_obj_open(j, "ndpi");
        json_str(j, "protocol", name);
        if (category)
            json_str(j, "category", category);
        json_bool(j, "guessed", guessed);
        json_obj_close(j);
    }
    json_obj_close(j);
    output_emit(w, o);
}

void output_stats(struct worker *w, const struct stats_snapshot *n)
{
    struct output *o = w->out;
    if (!o)
        return;
    const struct stats *s = &n->s;
    struct output_sink_stats ss[OUTPUT_MAX_SINKS];
    size_t nss = output_sink_stats(o, ss, OUTPUT_MAX_SINKS);
    eve_header(w, o, NULL, 0, n->ts_us, 0, "stats", NULL, NULL);
    struct json *j = &o->j;
    json_obj_open(j, "stats");
    json_u64(j, "uptime", n->uptime_s);
    if (n->live) {
        json_obj_open(j, "capture");
        json_u64(j, "kernel_packets", n->kernel_received);
        json_u64(j, "kernel_drops", n->kernel_dropped);
        json_u64(j, "kernel_ifdrops", n->kernel_if_dropped);
        json_obj_close(j);
    }
    json_obj_open(j, "decoder");
    json_u64(j, "pkts", s->packets);
    json_u64(j, "bytes", s->bytes);
    json_u64(j, "invalid", s->decode_invalid + s->decode_truncated);
    json_obj_close(j);
    json_obj_open(j, "flow");
    json_u64(j, "total", s->flows_created);
    json_u64(j, "active", n->flows_active);
    json_u64(j, "memcap", s->flows_memcap);
    json_obj_open(j, "end");
    json_obj_open(j, "state");
    json_u64(j, "closed", s->flows_closed);
    json_obj_close(j);
    json_obj_close(j);
    json_obj_close(j);
    json_obj_open(j, "tcp");
    json_u64(j, "midstream_pickups", s->tcp_midstream);
    json_u64(j, "reassembly_gap", s->tcp_gaps);
    json_u64(j, "overlap", s->tcp_overlaps);
    json_u64(j, "segment_memcap_drop", s->tcp_ooo_memcap);
    json_obj_close(j);
    json_obj_open(j, "app_layer");
    json_obj_open(j, "flow");
    json_u64(j, "dcerpc_tcp", s->app_dcerpc_flows);
    json_u64(j, "smb", s->app_smb_flows);
    json_obj_close(j);
    json_obj_open(j, "tx");
    json_u64(j, "dcerpc_tcp", s->dce_calls);
    json_obj_close(j);
    json_obj_close(j);
    json_obj_open(j, "detect");
    json_u64(j, "alert", s->alerts);
    json_obj_close(j);
    json_obj_close(j);
    if (!o->opts.compat) {
        /* every counter under its own name, and what Suricata's stats have no place for */
        json_obj_open(j, "rpcsentry");
        json_obj_open(j, "stats");
        json_u64(j, "workers", n->workers);
#define X(name) json_u64(j, #name, s->name);
        STATS_COUNTERS(X)
#undef X
        json_obj_open(j, "anomalies_by_event"); /* "anomalies" is the total, above */
        for (int t = 0; t < ANOM_COUNT; t++)
            if (n->anomalies[t])
                json_u64(j, anomaly_info((enum anomaly_type)t)->event, n->anomalies[t]);
        json_obj_close(j);
        json_obj_open(j, "memory");
        json_u64(j, "in_use", n->mem_in_use);
        json_u64(j, "peak", n->mem_peak);
        json_u64(j, "refused", n->mem_refused);
        json_obj_close(j);
        /* each output: what it took and what it had to drop (a peer gone, a full queue) */
        json_arr_open(j, "outputs");
        for (size_t i = 0; i < nss && i < OUTPUT_MAX_SINKS; i++) {
            json_obj_open(j, NULL);
            json_str(j, "output", ss[i].spec);
            json_u64(j, "written", ss[i].written);
            json_u64(j, "dropped", ss[i].dropped);
            if (ss[i].failed)
                json_bool(j, "failed", true);
            if (ss[i].why[0])
                json_str(j, "reason", ss[i].why);
            json_obj_close(j);
        }
        json_arr_close(j);
        json_obj_close(j);
        json_obj_close(j);
    }
    json_obj_close(j);
    output_emit(w, o);
}

/* The anomaly object, Suricata's shape. */
static void write_anomaly(struct json *j, const struct anomaly_info *ai)
{
    json_obj_open(j, "anomaly");
    json_str(j, "type", ai->type);
    json_str(j, "event", ai->event);
    if (ai->app_proto) {
        json_str(j, "layer", "proto_parser");
        json_str(j, "app_proto", ai->app_proto);
    }
    json_obj_close(j);
}

void output_call_anomaly(struct worker *w, const struct rpc_call *c, enum anomaly_type t,
                         const char *detail)
{
    struct output *o = w->out;
    const struct anomaly_info *ai = anomaly_info(t);
    if (!o || !ai)
        return;
    if (!c->transport || !c->transport->flow) {
        output_anomaly(w, NULL, t, detail);
        return;
    }
    eve_header(w, o, c->transport->flow, c->client_ep, w->now_us, w->pcap_cnt, "anomaly",
               ai->app_proto, c->transport->community_id);
    struct json *j = &o->j;
    json_u64(j, "tx_id", c->tx_id);
    write_anomaly(j, ai);
    if (!o->opts.compat) {
        char u[UUID_STR_LEN];
        json_obj_open(j, "rpcsentry");
        if (c->iface) {
            json_str(j, "interface", c->iface->name);
        } else if (!(c->flags & RPC_F_CTX_UNKNOWN) || (c->flags & RPC_F_IFACE_HINT)) {
            uuid_fmt(&c->ctx.uuid, u);
            json_str(j, "interface", u);
        }
        if (c->op)
            json_str(j, "operation", c->op->name);
        if (c->req_ptype != RPC_PTYPE_NONE)
            json_u64(j, "opnum", c->opnum);
        json_u64(j, "call_id", c->call_id);
        json_u64(j, "context_id", c->ctx_id);
        json_str(j, "transport", c->transport->kind == RPC_TRANSPORT_NP ? "ncacn_np"
                                                                          : "ncacn_ip_tcp");
        if (detail)
            json_str(j, "detail", detail);
        json_obj_close(j);
    }
    json_obj_close(j);
    output_emit(w, o);
}

void output_anomaly(struct worker *w, const struct flow_ref *fr, enum anomaly_type t,
                    const char *detail)
{
    struct output *o = w->out;
    const struct anomaly_info *ai = anomaly_info(t);
    if (!o || !ai)
        return;
    int src = fr && fr->client != FLOW_CLIENT_UNKNOWN ? fr->client : 0;
    eve_header(w, o, fr, src, w->now_us, w->pcap_cnt, "anomaly", ai->app_proto, NULL);
    struct json *j = &o->j;
    write_anomaly(j, ai);
    if (detail && !o->opts.compat) {
        json_obj_open(j, "rpcsentry");
        json_str(j, "detail", detail);
        json_obj_close(j);
    }
    json_obj_close(j);
    output_emit(w, o);
}
