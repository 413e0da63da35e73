/*
 * SMB (ncacn_np) transport: NetBIOS session framing, SMB1 and SMB2/3, named
 * pipes carrying DCE/RPC. Part of the transport stage; feeds one DCE/RPC
 * association per pipe instance.
 */
#ifndef RPCSENTRY_SMB_H
#define RPCSENTRY_SMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/transport.h"
#include "rpcsentry/types.h"

struct worker;
struct smb_conn;
struct rpc_transport;

/* PROBE_SMB when p starts with a NetBIOS session message carrying SMB. */
enum transport_probe smb_probe(const uint8_t *p, size_t n);

/*
 * A connection's SMB state. The TCP connection's transport (its flow,
 * transaction counter and Community IDs) must outlive it; its pipes are
 * transports within it. With synced false the first bytes are not known to
 * start a message and the parser scans for the next one.
 */
struct smb_conn *smb_conn_new(struct worker *w, const struct rpc_transport *tcp, bool synced);
void smb_conn_free(struct worker *w, struct smb_conn *c);
void smb_data(struct worker *w, struct smb_conn *c, int ep, const uint8_t *data, size_t len);
void smb_gap(struct worker *w, struct smb_conn *c, int ep);

/* Frees the worker's registry of sessions seen across connections. */
void smb_registry_free(struct worker *w);

#endif
