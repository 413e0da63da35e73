/*
 * iface: what each interface is and what each of its operations does.
 *
 * Table-driven: one file per interface holds its catalogue entry (catalog.h:
 * UUID, version, names and an opnum table {name, class, decoders}) and its
 * decoders; registry.c lists them. Adding an interface is one file and one
 * line there. The stage entry points name and classify a finished call, run
 * its decoders and pass it to detect.
 */
#ifndef RPCSENTRY_IFACE_H
#define RPCSENTRY_IFACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/args.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/ndr.h"
#include "rpcsentry/rpc_call.h"
#include "rpcsentry/uuid.h"

struct worker;

/* Frees what decoders kept per association (svcctl handles); called by the engine. */
void iface_assoc_state_free(struct worker *w, void *state);

/* Attaches the indicators a decoded request shows (call->indicators and args "indicators"). */
void indicators_evaluate(struct worker *w, struct rpc_call *call);

/* Stage entries. A request is complete (alerts can fire): */
void iface_request(struct worker *w, struct rpc_call *call);
/* A call (or bind) is finished, answered or given up: */
void iface_complete(struct worker *w, struct rpc_call *call);

#endif
