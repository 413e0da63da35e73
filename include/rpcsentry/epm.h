/*
 * The endpoint mapper: towers (C706 appendix L, MS-RPCE 2.2.1.2) and what
 * the sensor learns from ept_map/ept_lookup answers, a bounded table
 * (server address, port) -> interface with a time to live. A new flow to a
 * learned port is handed to the DCE/RPC engine from its first packet, and its
 * calls are named from the table when their bind was not seen.
 */
#ifndef RPCSENTRY_EPM_H
#define RPCSENTRY_EPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/uuid.h"

struct worker;

/* Protocol identifiers of tower floors (C706 appendix I, MS-RPCE 2.2.1.2.1). */
enum epm_proto {
    EPM_PROTO_UUID = 0x0d,
    EPM_PROTO_CO = 0x0b, /* connection-oriented RPC */
    EPM_PROTO_CL = 0x0a, /* connectionless RPC */
    EPM_PROTO_LRPC = 0x0c,
    EPM_PROTO_TCP = 0x07,
    EPM_PROTO_UDP = 0x08,
    EPM_PROTO_IP = 0x09,
    EPM_PROTO_NP = 0x0f, /* named pipe */
    EPM_PROTO_LRPC_PORT = 0x10,
    EPM_PROTO_NETBIOS = 0x11,
    EPM_PROTO_HTTP = 0x1f,
};

/* One tower, its floors in whatever order they came. */
struct epm_tower {
    unsigned n_floors;
    bool has_iface, has_syntax, has_ip, has_port;
    struct uuid iface, syntax;
    uint16_t ver_major, ver_minor, syntax_ver;
    uint8_t rpc;       /* EPM_PROTO_CO, _CL, _LRPC, or 0 */
    uint8_t transport; /* EPM_PROTO_TCP, _UDP, _NP, _HTTP, _LRPC_PORT, or 0 */
    uint16_t port;     /* TCP, UDP, HTTP */
    uint8_t ip[4];     /* IPv4 from the IP floor; 0.0.0.0 = the server itself */
    char pipe[128];    /* named pipe or LRPC endpoint */
    char host[64];     /* NetBIOS host floor */
};

/* Parses tower octets; false (and a partial t) on a malformed tower. */
bool epm_tower_parse(const uint8_t *p, size_t n, struct epm_tower *t);

/* The name of a tower's protocol sequence: "ncacn_ip_tcp", "ncacn_np", ... or NULL. */
const char *epm_tower_protseq(const struct epm_tower *t);

/* What the table knows about a port. */
struct epm_entry {
    uint8_t addr[16];
    uint8_t ipver;
    uint16_t port;
    struct uuid iface;
    uint16_t ver_major, ver_minor;
    uint64_t learned_us;      /* packet time of the answer */
    uint64_t learned_flow_id; /* the flow that carried the lookup */
    bool used;
};

#define EPM_TABLE_SLOTS 4096

/* Learns (addr, port) -> interface from a lookup's answer; replaces an older entry. */
void epm_learn(struct worker *w, const uint8_t addr[16], uint8_t ipver, uint16_t port,
               const struct uuid *iface, uint16_t ver_major, uint16_t ver_minor, uint64_t flow_id);

/* Copies the live entry for (addr, port) into out; false if none (expired ones are dropped). */
bool epm_lookup(struct worker *w, const uint8_t addr[16], uint8_t ipver, uint16_t port,
                struct epm_entry *out);

/* Frees the worker's table (a shared one stays: it belongs to whoever made it). */
void epm_table_free(struct worker *w);

/* Empties the worker's table, shared or not (no worker may be using it meanwhile). */
void epm_forget(struct worker *w);

/*
 * One table for several workers: the answer and the connection it announces
 * may reach different workers. Behind a lock; reading files, used in capture
 * order (the worker's order_wait), so that an answer names the calls after it in
 * the capture and none before, as with one worker. Not accounted to any
 * worker's memory.
 */
struct epm_table *epm_table_new_shared(void);
void epm_table_free_shared(struct epm_table *t);

#endif
