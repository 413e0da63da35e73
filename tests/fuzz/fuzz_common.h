/*
 * What every fuzz target shares: a worker wired as the binary wires it,
 * with small caps so that limits are reached, writing records to /dev/null
 * so that formatting runs too.
 */
#ifndef RPCSENTRY_FUZZ_COMMON_H
#define RPCSENTRY_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/appid.h"
#include "rpcsentry/config.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/output.h"
#include "rpcsentry/transport.h"
#include "rpcsentry/worker.h"

static struct config fuzz_cfg;

static void fuzz_rule_error(const char *msg)
{
    (void)msg;
    abort(); /* the shipped rules must load */
}

static inline struct worker *fuzz_worker(void)
{
    static struct worker w;
    static int ready;
    if (!ready) {
        config_defaults(&fuzz_cfg);
        fuzz_cfg.flow_max = 64;
        fuzz_cfg.checksum_checks = CHECKSUM_AUTO; /* the flow stage's check runs */
        fuzz_cfg.stream_ooo_max = 4096;
        fuzz_cfg.stream_ooo_segs = 16;
        fuzz_cfg.dce_stub_max = 8192;
        fuzz_cfg.dce_max_calls = 8;
        fuzz_cfg.dce_max_contexts = 8;
        memset(&w, 0, sizeof w);
        w.cfg = &fuzz_cfg;
        w.mem.total_cap = 8u << 20;
        w.flows = flow_table_new(&w);
        struct output_opts oo = {.eve_path = "/dev/null", .log_binds = true};
        char err[256];
        w.out = output_open(&oo, err, sizeof err);
        w.on_anomaly = output_anomaly;
        w.on_flow_end = output_flow;
        w.on_file = output_file; /* files and tool pipes on SMB: their records too */
        w.on_pipe = output_pipe;
        /* the default rules and the byte-level examples, so the matcher runs on every call */
        const char *extra[] = {RS_SOURCE_DIR "/signatures/examples/fallback.rules"};
        unsigned errors = 0;
        w.detect = detect_load(true, extra, 1, fuzz_rule_error, &errors);
        if (!w.flows || !w.out || !w.detect)
            abort();
        /* nDPI too, as the binary runs it, and flow records */
        fuzz_cfg.log_flows = true;
        w.appid = appid_available() ? appid_open(err, sizeof err) : NULL;
        ready = 1;
    }
    return &w;
}

/* Every accounted byte must come back once the flows and the worker's
 * cross-flow state are released (the flow table itself stays). */
static inline void fuzz_check_released(struct worker *w)
{
    flow_flush_all(w);
    detect_flush(w);
    story_table_free(w);
    transport_worker_free(w);
    decode_worker_free(w); /* fragments waiting for their datagram */
    if (w->mem.total_used != (size_t)w->mem.used[MEM_FLOW])
        abort();
}

#endif
