/*
 * transport: decides what a TCP flow carries and runs it.
 *
 * Raw DCE/RPC (ncacn_ip_tcp) is recognised by its header, on any port; SMB
 * (ncacn_np) by NetBIOS session framing and the SMB signature. The first
 * bytes of each direction are probed; flows that are neither are marked
 * FLOW_APP_IGNORED and cost nothing more. Well-known ports (135, 139, 445)
 * are engaged even mid-stream, with the engine re-synchronising on the next
 * header it finds.
 */
#ifndef RPCSENTRY_TRANSPORT_H
#define RPCSENTRY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct worker;
struct flow;

/* In-order bytes sent by endpoint ep. May set f->app to FLOW_APP_IGNORED. */
void transport_data(struct worker *w, struct flow *f, int ep, const uint8_t *data, size_t len);

/* len bytes sent by ep were never seen. */
void transport_gap(struct worker *w, struct flow *f, int ep, uint32_t len);

/* The flow is over: finish open calls, free the state. */
void transport_end(struct worker *w, struct flow *f);

/*
 * Hints for a reader that looks ahead (see struct ahead): the flow's
 * transport state (step 0), then, once that has arrived, the first lines of
 * its SMB or DCE/RPC engine's state (step 1).
 */
void transport_prefetch(const struct flow *f, int step);

/* Frees what the transport keeps per worker across flows (at shutdown). */
void transport_worker_free(struct worker *w);

/* Forgets what was learnt across flows (endpoint-mapper answers, SMB sessions of other
 * channels), as at start; the worker's flows must have ended. */
void transport_forget(struct worker *w);

/* Probe verdicts, exposed for tests. */
enum transport_probe {
    PROBE_NEED_MORE,
    PROBE_DCERPC,
    PROBE_SMB,
    PROBE_NO,
};

/* Looks at the first bytes of one direction of a stream. */
enum transport_probe transport_probe(const uint8_t *data, size_t len);

#endif
