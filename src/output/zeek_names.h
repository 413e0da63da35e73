/*
 * Zeek's names of DCE/RPC interfaces (its `endpoint`) and operations, and the
 * operations Zeek leaves out of dce_rpc.log (DCE_RPC::ignored_operations):
 * the table zeek_names.c, generated from Zeek's scripts by
 * scripts/zeek_names.py. Static data; the strings live as long as the program.
 */
#ifndef RPCSENTRY_OUTPUT_ZEEK_NAMES_H
#define RPCSENTRY_OUTPUT_ZEEK_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/uuid.h"

struct zeek_op {
    uint16_t opnum;
    bool ignored; /* in ignored_operations under its interface's endpoint name */
    const char *name;
};

struct zeek_iface {
    struct uuid uuid;
    const char *endpoint;      /* uuid_endpoint_map's name, or NULL: Zeek has none */
    bool all_ignored;          /* ignored_operations has "*" for the endpoint */
    const struct zeek_op *ops; /* sorted by opnum; NULL when Zeek names none */
    uint16_t n_ops;
};

/* Sorted by UUID (memcmp order), every UUID of either Zeek table once. */
extern const struct zeek_iface zeek_ifaces[];
extern const size_t zeek_n_ifaces;
/* Which Zeek the table comes from ("Zeek 9.1.0-dev, commit ..."). */
extern const char zeek_names_source[];

/* The interface by UUID, or NULL when Zeek's tables do not have it. */
const struct zeek_iface *zeek_iface_find(const struct uuid *u);

/* The operation by opnum, or NULL (z may be NULL). */
const struct zeek_op *zeek_op_find(const struct zeek_iface *z, uint16_t opnum);

#endif
