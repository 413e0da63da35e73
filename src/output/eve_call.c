/*
 * `dcerpc` records: Suricata's `dcerpc` object (and `smb` for calls over a
 * pipe), plus the `rpcsentry` extension object for what its schema lacks;
 * and the records that carry a call's objects too: alerts on a call, and the
 * `lateral_movement` stories with their alerts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "output_internal.h"
#include "rpcsentry/alert.h"
#include "rpcsentry/args.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/json.h"
#include "rpcsentry/names.h"
#include "rpcsentry/output.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"

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
            write_iface_item(j, &c->ctx, c->op ? iface_suricata_procedure(c->iface, c->op) : NULL);
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
    if (c->route)
        return c->route_attack[0];
    if (!c->iface || !c->iface->target || !c->iface->attack)
        return NULL;
    switch (c->cls) {
    case RPC_CLASS_CREATE:
    case RPC_CLASS_MODIFY:
    case RPC_CLASS_DELETE: return c->iface->attack;
    case RPC_CLASS_EXECUTE:
        /* starting a service is System Services: Service Execution */
        return strcmp(c->iface->service, "svcctl") == 0 ? "T1569.002" : c->iface->attack;
    default: return NULL;
    }
}

static void write_auth(struct json *j, const struct rpc_call *c)
{
    const struct rpc_identity *id = c->identity;
    if (!c->auth_type && !c->auth_level && !(id && id->valid))
        return;
    json_obj_open(j, "auth");
    if (c->auth_type || c->auth_level) {
        json_str(j, "type", rpc_auth_type_name(c->auth_type));
        json_str(j, "level", rpc_auth_level_name(c->auth_level));
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
    } names[] = {{RPC_F_MIDSTREAM, "midstream"},
                 {RPC_F_GAP, "gap"},
                 {RPC_F_STUB_TRUNC, "stub_truncated"},
                 {RPC_F_GIVEN_UP, "given_up"},
                 {RPC_F_CTX_UNKNOWN, "context_unknown"},
                 {RPC_F_IFACE_HINT, "interface_inferred"},
                 {RPC_F_OVERLAP, "stream_overlap"},
                 {RPC_F_ARGS_MEMCAP, "args_memcap"},
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
        json_bool(j, "target", iface_call_target(c));
        if (c->route)
            json_str(j, "route", iface_route_name(c->route));
        const char *attack = attack_for(c);
        if (attack) {
            json_arr_open(j, "attack");
            json_str(j, NULL, attack);
            if (c->route && c->route_attack[1])
                json_str(j, NULL, c->route_attack[1]);
            json_arr_close(j);
        }
        json_u64(j, "context_id", c->ctx_id);
        if (c->has_object) {
            uuid_fmt(&c->object, u);
            json_str(j, "object", u);
        }
        if (!(c->flags & RPC_F_CTX_UNKNOWN))
            json_str(j, "syntax", rpc_syntax_name(c->ctx.syntax));
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
            json_str(j, "syntax", rpc_syntax_name(it->syntax));
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
    if (c->decrypted)
        json_bool(j, "decrypted", true);
    if (c->transport->smb_encrypted)
        json_bool(j, "smb_encrypted", true);
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
    /* the alerts of its answer, written just before (detect_complete), hold the same
       dcerpc, smb and rpcsentry parts: they are copied, not written again */
    bool alerted = o->tail_of == c;
    o->tail_of = NULL;
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
    if (alerted) {
        json_members(&o->j, o->tail.buf, o->tail.len);
    } else {
        write_dcerpc(&o->j, c, false);
        if (c->transport->kind == RPC_TRANSPORT_NP)
            write_smb(&o->j, c);
        if (!o->opts.compat)
            write_extension(&o->j, c);
    }
    json_obj_close(&o->j);
    output_emit(w, o);
}

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

void eve_write_alert(struct json *j, const struct alert_info *a, bool references)
{
    if (a->rendered[references])
        json_members(j, a->rendered[references], a->rendered_len[references]);
    else
        write_alert(j, a, references);
}

void output_alert_render(struct alert_info *a)
{
    for (int refs = 0; refs < 2; refs++) {
        struct json t;
        json_init(&t);
        json_open_(&t, '{'); /* inside an object, so that the member has its key */
        write_alert(&t, a, refs);
        if (t.oom) { /* written at each alert, then */
            json_free(&t);
            continue;
        }
        memmove(t.buf, t.buf + 1, t.len - 1);
        a->rendered[refs] = t.buf;
        a->rendered_len[refs] = t.len - 1;
    }
}

/*
 * The call's part of an alert (dcerpc, smb, rpcsentry: its arguments) is the same in every
 * alert of one batch, and the larger part: it is written for the first, kept in o->tail, and
 * copied into the others. At the answer it is also the call's own record's, which comes next
 * (output_call).
 */
void output_alerts(struct worker *w, const struct rpc_call *c, const struct alert_info *const *a,
                   unsigned n, bool at_response)
{
    struct output *o = w->out;
    if (!o)
        return;
    int src = at_response ? 1 - c->client_ep : c->client_ep;
    uint64_t ts = at_response ? c->res_ts_us : c->req_ts_us;
    uint64_t cnt = at_response ? c->res_pcap_cnt : c->req_pcap_cnt;
    struct json *j = &o->j;
    bool kept = false;
    o->tail_of = NULL;
    for (unsigned i = 0; i < n; i++) {
        eve_header(w, o, c->transport->flow, src, ts, cnt, "alert", app_proto_of(c),
                   c->transport->community_id);
        json_u64(j, "tx_id", c->tx_id);
        json_str(j, "direction", at_response ? "to_client" : "to_server");
        eve_write_alert(j, a[i], o->opts.alert_references);
        if (kept) {
            json_members(j, o->tail.buf, o->tail.len);
        } else {
            size_t from = j->len; /* at the comma before "dcerpc" */
            write_dcerpc(j, c, !at_response);
            if (c->transport->kind == RPC_TRANSPORT_NP)
                write_smb(j, c);
            if (!o->opts.compat)
                write_extension(j, c);
            if ((i + 1 < n || at_response) && !j->oom && j->buf[from] == ',') {
                json_reset(&o->tail);
                json_bytes_(&o->tail, j->buf + from + 1, j->len - from - 1);
                kept = !o->tail.oom;
            }
        }
        json_obj_close(j);
        output_emit(w, o);
    }
    if (kept && at_response)
        o->tail_of = c;
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
    if (s->file.seen) {
        json_obj_open(j, "file");
        json_str(j, "path", s->file.path);
        json_str(j, "matched_by", s->file.by_time ? "time" : "path");
        json_u64(j, "size", s->file.size);
        if (s->file.whole)
            json_hex(j, "sha256", s->file.sha256, 32);
        ts_format(s->file.ts_us, ts);
        json_str(j, "timestamp", ts);
        json_u64(j, "flow_id", s->file.flow_id);
        json_u64(j, "pcap_cnt", s->file.pcap_cnt);
        json_obj_close(j);
    }
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
    char cid[COMMUNITY_ID_LEN];
    memcpy(cid, s->community_id, sizeof cid);
    eve_header(w, o, &s->flow, s->client_ep, s->ts_us, s->pcap_cnt, "lateral_movement",
               s->over_smb ? "smb" : "dcerpc", cid);
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
    char cid[COMMUNITY_ID_LEN];
    memcpy(cid, s->community_id, sizeof cid);
    eve_header(w, o, &s->flow, s->client_ep, s->ts_us, s->pcap_cnt, "alert",
               s->over_smb ? "smb" : "dcerpc", cid);
    json_str(&o->j, "direction", "to_server");
    eve_write_alert(&o->j, a, o->opts.alert_references);
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
    eve_write_alert(&o->j, a, o->opts.alert_references);
    json_obj_close(&o->j);
    output_emit(w, o);
}
