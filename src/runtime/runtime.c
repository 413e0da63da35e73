/*
 * Workers: setting one up and tearing it down the same way for files and
 * live capture, the periodic tick of live capture, and the hand-over of a
 * reloaded rule set between threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/appid.h"
#include "rpcsentry/config.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/epm.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/log.h"
#include "rpcsentry/output.h"
#include "rpcsentry/pcap_log.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

/* A file written over SMB: its record, and what the stories make of it. */
static void worker_file(struct worker *w, const struct smb_file_record *f)
{
    output_file(w, f);
    detect_file(w, f);
}

bool worker_setup(struct worker *w, const struct config *cfg, struct output *out, struct detect *d,
                  struct runtime_shared *sh, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    unsigned n = sh && sh->workers ? sh->workers : 1;
    /* the caps are for the whole sensor: each worker gets its share */
    w->mem.total_cap = cfg->memcap / n;
    w->mem.cap[MEM_STREAM] = cfg->stream_memcap / n;
    /* fragments never take more than a quarter of the whole: flows and calls come first */
    size_t defrag_cap = cfg->defrag_memcap < cfg->memcap / 4 ? cfg->defrag_memcap : cfg->memcap / 4;
    w->mem.cap[MEM_DEFRAG] = defrag_cap / n;
    /* the pcap log's own cap (see mem.h), used only with -w */
    w->mem.cap[MEM_PCAP] = cfg->pcap_log_memcap / n ? cfg->pcap_log_memcap / n : 1;
    w->out = out;
    w->on_anomaly = output_anomaly;
    w->on_call_anomaly = output_call_anomaly;
    if (out)
        w->on_flow_end = output_flow;
    w->on_file = worker_file;
    w->on_pipe = detect_pipe;
    w->tick = worker_tick;
    w->detect = d;
    w->shared = sh;
    if (sh) {
        w->epm = sh->epm;
        w->stories = sh->stories;
        w->rules_gen = sh->gen;
    }
    w->flows = flow_table_new(w);
    if (!w->flows) {
        snprintf(err, errlen, "out of memory for the flow table");
        return false;
    }
    if (cfg->ndpi && appid_available()) {
        w->appid = appid_open(err, errlen);
        if (!w->appid)
            log_warn("flows are not identified: %s", err);
    }
    return true;
}

void worker_teardown(struct worker *w)
{
    flow_table_free(w, w->flows);
    w->flows = NULL;
    pcap_log_detach(w); /* after the flows: an ending flow may still write what it held */
    /* after the flows: each ending flow releases its nDPI state */
    if (w->process_ends)
        appid_close_at_exit(w->appid);
    else
        appid_close(w->appid);
    w->appid = NULL;
    detect_flush(w);
    story_table_free(w);
    transport_worker_free(w); /* a shared endpoint-mapper table stays with its owner */
    decode_worker_free(w);
    output_close(w->out);
    w->out = NULL;
    free(w->scratch);
    w->scratch = NULL;
    if (w->mem.total_used)
        log_error("internal: %zu accounted bytes not released at exit", w->mem.total_used);
}

void worker_adopt_rules(struct worker *w)
{
    struct runtime_shared *sh = w->shared;
    if (sh && sh->gen != w->rules_gen) {
        pthread_mutex_lock(&sh->lock);
        w->detect = sh->detect;
        w->rules_gen = sh->gen;
        sh->adopted++;
        pthread_mutex_unlock(&sh->lock);
        w->stats.rule_reloads++;
    }
}

void worker_tick(struct worker *w, uint64_t now_us)
{
    worker_poll(w);
    worker_adopt_rules(w);
    if (now_us > w->now_us)
        w->now_us = now_us; /* a quiet link: time still passes */
    flow_expire(w, w->now_us);
    output_flush(w->out);
    pcap_log_flush(w->pcap_log);
}

bool runtime_publish_rules(struct runtime_shared *sh, struct detect *d)
{
    pthread_mutex_lock(&sh->lock);
    if (sh->retired) {
        pthread_mutex_unlock(&sh->lock);
        return false;
    }
    sh->retired = sh->detect;
    sh->detect = d;
    sh->gen++;
    sh->adopted = 0;
    pthread_mutex_unlock(&sh->lock);
    return true;
}

void runtime_collect(struct runtime_shared *sh)
{
    pthread_mutex_lock(&sh->lock);
    if (sh->retired && sh->adopted >= sh->workers) {
        detect_free(sh->retired);
        sh->retired = NULL;
    }
    pthread_mutex_unlock(&sh->lock);
}
