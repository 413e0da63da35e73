/*
 * detect: consumes finished call records, never bytes. Counts calls by class
 * and (with the signatures issue) matches rules, raising alerts when the
 * request is seen; finally passes the record to output.
 */
#ifndef RPCSENTRY_DETECT_H
#define RPCSENTRY_DETECT_H

#include "rpcsentry/rpc_call.h"

struct worker;

/* The request of a call is complete: alerts fire here. */
void detect_request(struct worker *w, struct rpc_call *call);

/* The call is finished (answered or given up): counted, then written. */
void detect_complete(struct worker *w, struct rpc_call *call);

#endif
