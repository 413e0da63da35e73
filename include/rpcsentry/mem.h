/*
 * Memory accounting against caps. Every buffer that grows with what the
 * network sends is charged to a category of a struct memacct; a charge that
 * would pass the category cap or the global cap is refused and counted, and
 * the caller drops or evicts instead of growing.
 */
#ifndef RPCSENTRY_MEM_H
#define RPCSENTRY_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mem_cat {
    MEM_FLOW,   /* flow records */
    MEM_STREAM, /* TCP out-of-order segments */
    MEM_APP,    /* application-layer buffers: DCE/RPC PDUs and stubs, SMB */
    MEM_DEFRAG, /* IP fragments waiting for their datagram */
    MEM_ARGS,   /* decoded arguments of calls; may pass the global cap by a sixteenth
                   of it, so that a flood that fills the cap does not hide the arguments
                   of the creation it was meant to hide */
    MEM_PCAP,   /* packets the pcap log (-w) holds of flows not yet known to matter: a cap
                   of its own beside the global one, which it neither passes nor takes from,
                   so that the decoding (and so the records) is the same with -w */
    MEM_CAT_COUNT
};

struct memacct {
    size_t used[MEM_CAT_COUNT];
    size_t cap[MEM_CAT_COUNT]; /* 0 = only the global cap applies */
    size_t peak[MEM_CAT_COUNT];
    uint64_t refused[MEM_CAT_COUNT];
    size_t total_used, total_cap, total_peak;
};

const char *mem_cat_name(enum mem_cat c);

/* Charges n bytes; false (and a refusal counted) when a cap would be passed. */
bool mem_charge(struct memacct *m, enum mem_cat c, size_t n);
void mem_release(struct memacct *m, enum mem_cat c, size_t n);

/* malloc/realloc/free that charge the account; NULL when refused or out of memory. */
void *mem_alloc(struct memacct *m, enum mem_cat c, size_t n);
void *mem_calloc(struct memacct *m, enum mem_cat c, size_t n);
void *mem_realloc(struct memacct *m, enum mem_cat c, void *p, size_t old_n, size_t new_n);
void mem_free(struct memacct *m, enum mem_cat c, void *p, size_t n);

#endif
