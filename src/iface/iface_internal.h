/* Shared by the interface tables in src/iface: the registry's view of them. */
#ifndef RPCSENTRY_IFACE_INTERNAL_H
#define RPCSENTRY_IFACE_INTERNAL_H

#include "rpcsentry/iface.h"

extern const struct iface_def iface_tsch;
extern const struct iface_def iface_atsvc;
extern const struct iface_def iface_sasec;
extern const struct iface_def iface_svcctl;
extern const struct iface_def iface_winreg;
/* iface_epm is public: the engine and the endpoint mapper tracking use it */

/* Interfaces named for context only (no target operations), in common.c. */
extern const struct iface_def iface_common[];
extern const size_t iface_common_count;

#include "rpcsentry/worker.h"

#define ARG_STR_MAX 4096 /* one decoded string (a path, a command line) */

/* Names of the bits set in v, from a table ending with {0, NULL}; unknown bits as hex. */
struct flag_name {
    uint32_t bit;
    const char *name;
};
void args_flags(struct rpc_args *a, uint16_t parent, const char *name, uint32_t v,
                const struct flag_name *names);
/* One name for a value from a table ending with {0, NULL}, or the number itself. */
void args_enum(struct rpc_args *a, uint16_t parent, const char *name, uint32_t v,
               const struct flag_name *names);
/* A string read by the NDR reader, added only when the read succeeded. */
void args_ndr_string(struct rpc_args *a, uint16_t parent, const char *name, struct ndr *n,
                     bool wide);
void args_ndr_unique_string(struct rpc_args *a, uint16_t parent, const char *name, struct ndr *n,
                            bool wide);
/*
 * A [unique] pointer to a conformant array of argc [string] pointers, then the
 * strings (RStartServiceW's argv, SchRpcRun's pArgs): the first 32 go into an
 * array `name` under parent, the rest are read past. False when the array's
 * size is not argc or is absurd (over 1024): the stub is not what it says.
 */
bool args_ndr_string_array(struct rpc_args *a, uint16_t parent, const char *name, struct ndr *n,
                           uint32_t argc, bool wide);

/*
 * Per-association state the decoders keep: service handles to names (svcctl).
 * The handle table grows by doubling from IFACE_FIRST_HANDLES up to
 * IFACE_MAX_HANDLES: an association holds two or three handles (the manager's
 * and a service's), and thousands of associations live at once on a busy
 * sensor, so a full table each (18 KiB) was most of the sensor's memory.
 */
#define IFACE_FIRST_HANDLES 4
#define IFACE_MAX_HANDLES 64
struct iface_handle {
    uint8_t h[20];
    bool scm;    /* a service control manager handle, not a service */
    uint8_t reg; /* winreg: a key handle, and whether the key was created or existed */
    char name[256];
};
struct iface_state {
    struct iface_handle *handles;
    unsigned n, cap, next;     /* next: slot to overwrite when full */
    char unanswered_open[256]; /* service of the last open whose answer was not seen */
};
struct iface_state *iface_state_get(struct worker *w, struct rpc_call *call);
/* The entry of handle h, or NULL. */
struct iface_handle *iface_handle_find(struct iface_state *st, const uint8_t h[20]);
/* h's entry, or a new zeroed one holding h (the table grown, or its oldest reused); NULL
   when the table has no room and no memory to grow. */
struct iface_handle *iface_handle_slot(struct worker *w, struct iface_state *st,
                                       const uint8_t h[20]);
/* Forgets the handle (closed). */
void iface_handle_drop(struct rpc_call *call, const uint8_t h[20]);

/* Marks the decode as failed on a short or malformed stub (counted, noted on the call). */
void iface_decode_failed(struct worker *w, struct rpc_call *call, uint16_t section);

#endif
