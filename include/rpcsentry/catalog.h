/*
 * The interface catalogue: what each interface is (UUID, version, names,
 * pipes, ATT&CK technique), what each of its operations is called and does
 * (class, decoders), the names of status codes, and the indicators. Read by
 * every stage from dcerpc on to name and judge calls; a name table of the
 * record floor. The entries are defined beside their decoders, one file per
 * interface in src/iface/ (registry.c lists them, status.c and
 * indicators.c hold the other two tables): an interface is added in one place.
 */
#ifndef RPCSENTRY_CATALOG_H
#define RPCSENTRY_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/rpc_call.h"
#include "rpcsentry/uuid.h"

/* UUID literal in text order: UUID_LIT(0x86d35949, 0x83c9, 0x4044, 0xb4, 0x24, 0xdb, ...). */
#define UUID_LIT(a, b, c, d0, d1, e0, e1, e2, e3, e4, e5)                                          \
    {                                                                                              \
        {                                                                                          \
            (uint8_t)((a) >> 24), (uint8_t)((a) >> 16), (uint8_t)((a) >> 8), (uint8_t)(a),         \
                (uint8_t)((b) >> 8), (uint8_t)(b), (uint8_t)((c) >> 8), (uint8_t)(c), d0, d1, e0,  \
                e1, e2, e3, e4, e5                                                                 \
        }                                                                                          \
    }

/*
 * A stub decoder: reads the stub through n (NDR or NDR64, the call's byte
 * order) and records what it finds in call->args (sections "args" for a
 * request, "result" for a response), refining call->cls where the
 * arguments decide it. Must not keep pointers into the stub. The tree
 * exists (args_new) before the decoder runs.
 */
struct worker;
struct rpc_call;
struct ndr;

typedef void (*iface_decode_fn)(struct worker *w, struct rpc_call *call, struct ndr *n);

struct iface_op {
    const char *name; /* as the specification names it; NULL = no such opnum */
    enum rpc_class cls;
    iface_decode_fn decode_req;
    iface_decode_fn decode_res;
};

/* How Suricata's `procedure` names differ from the specification's. */
enum iface_suricata_names {
    SURI_NAMES_SAME,      /* Suricata uses the specification's names */
    SURI_NAMES_STRIP_R,   /* "RCreateServiceW" -> "CreateServiceW" (svcctl) */
    SURI_NAMES_STRIP_IDL, /* "IDL_DRSBind" -> "DRSBind" (drsuapi) */
};

struct iface_def {
    struct uuid uuid;
    uint16_t ver_major, ver_minor;
    const char *name;           /* specification name: "ITaskSchedulerService" */
    const char *service;        /* short name as Suricata's `service`: "svcctl", "atsvc", ... */
    const char *spec;           /* "MS-TSCH", or NULL */
    bool target;                /* remote task or service creation: what the sensor is for */
    const char *pipes;          /* named pipes it is reached through, space-separated, or NULL */
    const char *attack;         /* ATT&CK technique for its create/modify/execute operations */
    const struct iface_op *ops; /* indexed by opnum */
    uint16_t n_ops;
    uint8_t suricata_names; /* enum iface_suricata_names */
    bool returns_hresult;   /* operations return HRESULTs (0 is S_OK), not Win32 errors */
    bool returns_status;    /* not a target, but every operation returns a Win32 error last */
};

/*
 * Is the call about a task or a service: on a target interface, or routed to
 * one another way (a registry write that makes a service)?
 */
static inline bool iface_call_target(const struct rpc_call *c)
{
    return (c->iface && c->iface->target) || c->route != RPC_ROUTE_NONE;
}

/* The name of a route ("registry"), or NULL for none. */
static inline const char *iface_route_name(uint8_t route)
{
    return route == RPC_ROUTE_REGISTRY ? "registry" : NULL;
}

/* Interface by UUID (any version), or NULL. */
const struct iface_def *iface_find(const struct uuid *u);

/* Interfaces reachable through a named pipe ("atsvc", "\\PIPE\\svcctl", case-insensitive). */
size_t iface_for_pipe(const char *pipe, const struct iface_def **out, size_t max);

/* Operation by opnum, or NULL. */
const struct iface_op *iface_op(const struct iface_def *d, uint16_t opnum);

/* The operation's name as Suricata's `procedure` field gives it. */
const char *iface_suricata_procedure(const struct iface_def *d, const struct iface_op *op);

/* Every registered interface, for listing and tests. */
size_t iface_all(const struct iface_def *const **out);

/* Well-known interfaces the engine itself needs. */
extern const struct iface_def iface_epm;

/* Name of a Win32 error, HRESULT or NTSTATUS code, or NULL. */
const char *iface_status_name(uint32_t code);

/* Indicators (iface/indicators.c): named properties of decoded calls. */
enum indicator_id {
    IND_LOLBIN,
    IND_SCRIPT_FILE,
    IND_USER_WRITABLE,
    IND_NETWORK_PATH,
    IND_OUTPUT_REDIRECT,
    IND_ENCODED_POWERSHELL,
    IND_RANDOM_NAME,
    IND_HIDDEN_TASK,
    IND_RUNS_AS_SYSTEM,
    IND_PADDED,
    IND_HIVE_SAVED,
    IND_HIDDEN_SERVICE,
    IND_COUNT
};
struct indicator_def {
    const char *name;
    const char *attack; /* ATT&CK technique it supports, or NULL */
    const char *about;
};
/* The IND_COUNT indicator definitions, indexed by enum indicator_id. */
const struct indicator_def *indicator_table(void);

#endif
