/*
 * EVE JSON records, the lifecycle: opening the outputs (the log directory's
 * file beside the -o specs), views for the workers, draining and counting,
 * handing a finished record to the sinks, and Suricata's common header.
 * The records themselves: eve_call.c (dcerpc and the rpcsentry extension),
 * eve_alert.c (alerts and stories), eve_flow.c (flows, stats, anomalies).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "output_internal.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/json.h"
#include "rpcsentry/lockwait.h"
#include "rpcsentry/output.h"
#include "rpcsentry/sink.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"

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
        char path[sizeof o->spec]; /* the spec's path, without its ?types= */
        snprintf(path, sizeof path, "%.*s", (int)strcspn(o->spec + 5, "?"), o->spec + 5);
        if (stat(path, &a) == 0 && stat(s->spec + 5, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            return true; /* -o names the log directory's file: that spec alone writes it */
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
    json_init(&o->tail);
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
            struct sink *s = sink_open_spec(opts->outputs[i], opts->syslog_target, opts->syslog_tag,
                                            cap, &env, err, errlen);
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
        json_free(&o->tail);
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
    json_init(&o->tail);
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
    json_free(&o->tail);
    free(o);
}

void output_emit(struct worker *w, struct output *o)
{
    o->tail_of = NULL; /* another record came between: its alerts' part is not the call's */
    if (o->j.oom) {
        w->stats.events_dropped++;
        atomic_fetch_add(&o->sh->unformatted, 1);
        return;
    }
    if (o->opts.format != FORMAT_EVE && o->kind != -1)
        return; /* Zeek's dce_rpc.log has calls only (zeek_call writes them, kind -1) */
    bool ok = false, wanted = false;
    uint32_t bit = o->kind >= 0 ? 1u << o->kind : (1u << EV_DCERPC);
    lock_counted(&o->sh->lock, &w->stats.lock_output_waits, &w->stats.lock_output_wait_us);
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
        if (fr->vlan) {
            LIT(",\"vlan\":[");
            t = dec_u64(t, fr->vlan);
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
