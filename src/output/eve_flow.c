/* `flow`, `stats` and `anomaly` records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "output_internal.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/json.h"
#include "rpcsentry/output.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"

static void tcp_flags_str(uint8_t f, char out[3])
{
    *hex_u32(out, f, 2) = '\0';
}

void output_flow(struct worker *w, const struct flow_summary *f)
{
    struct output *o = w->out;
    if (!o)
        return;
    /* the side that opened it is the source; unknown (mid-stream): the first seen */
    int client = f->ref->client == FLOW_CLIENT_UNKNOWN ? 0 : f->ref->client;
    int server = 1 - client;
    eve_header(w, o, f->ref, client, f->first_us, 0, "flow", f->app_proto, NULL);
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
    bool tcp = f->ref->key.proto == 6;
    uint8_t all = (uint8_t)(f->flags_seen[0] | f->flags_seen[1]);
    const char *state = !tcp        ? (f->pkts[server] ? "established" : "new")
                        : f->closed ? "closed"
                        : (f->flags_seen[client] & 0x10) && f->pkts[server] ? "established"
                                                                            : "new";
    json_str(j, "state", state);
    static const char *const reasons[] = {"timeout", "forced", "timeout", "shutdown"};
    json_str(j, "reason", f->reason >= 0 && f->reason < 4 ? reasons[f->reason] : "shutdown");
    json_bool(j, "alerted", f->ref->alerted);
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
    if (f->ndpi) {
        /* Suricata's nDPI plugin has this object; its content is nDPI's own */
        json_obj_open(j, "ndpi");
        json_str(j, "protocol", f->ndpi_protocol);
        if (f->ndpi_category)
            json_str(j, "category", f->ndpi_category);
        json_bool(j, "guessed", f->ndpi_guessed);
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
    json_u64(j, "gre", s->decode_gre); /* the tunnels opened, as Suricata names them */
    json_u64(j, "erspan", s->decode_erspan);
    json_u64(j, "vxlan", s->decode_vxlan);
    json_u64(j, "geneve", s->decode_geneve);
    json_u64(j, "nsh", s->decode_nsh);
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
        json_str(j, "transport",
                 c->transport->kind == RPC_TRANSPORT_NP ? "ncacn_np" : "ncacn_ip_tcp");
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
