/*
 * dcerpc: the connection-oriented DCE/RPC engine (C706 ch. 12, MS-RPCE 2.2).
 *
 * One association per TCP connection (ncacn_ip_tcp) or per pipe instance
 * (ncacn_np). The engine is fed the in-order bytes of each direction, cuts
 * PDUs, keeps the presentation contexts, reassembles fragments by call_id,
 * matches responses to requests and hands finished calls to iface. It knows
 * nothing of pcap, TCP or SMB.
 */
#ifndef RPCSENTRY_DCERPC_H
#define RPCSENTRY_DCERPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/names.h"
#include "rpcsentry/rpc_call.h"

struct worker;
struct dce_assoc;

#define DCE_PFC_FIRST_FRAG 0x01
#define DCE_PFC_LAST_FRAG 0x02
#define DCE_PFC_OBJECT_UUID 0x80

#define DCE_HDR_LEN 16

struct dce_hdr {
    uint8_t vers, vers_minor, ptype, flags;
    uint8_t drep[4];
    bool le;
    uint16_t frag_len, auth_len;
    uint32_t call_id;
};

/*
 * Checks whether p starts with a plausible connection-oriented header:
 * 1 yes (h filled if non-NULL), 0 too short to tell yet, -1 no.
 */
int dce_hdr_check(const uint8_t *p, size_t n, struct dce_hdr *h);

/* The sec_trailer of a PDU, when auth_length is non-zero. */
struct dce_auth {
    bool present;
    uint8_t type, level, pad_len;
    uint32_t context_id;
    size_t trailer_off;   /* offset of the 8-byte sec_trailer within the PDU */
    const uint8_t *value; /* auth_value, auth_len bytes */
    size_t value_len;
};

/*
 * Creates an association over transport t (which must outlive it).
 * Returns NULL when the memory cap refuses it.
 */
struct dce_assoc *dce_assoc_new(struct worker *w, const struct rpc_transport *t);

/* Gives up unanswered calls (UNREPLIED records), then frees. */
void dce_assoc_free(struct worker *w, struct dce_assoc *a);

/* In-order bytes sent by flow endpoint ep. */
void dce_data(struct worker *w, struct dce_assoc *a, int ep, const uint8_t *data, size_t len);

/* Bytes from ep were lost: drop the partial PDU and re-synchronise. */
void dce_gap(struct worker *w, struct dce_assoc *a, int ep);

/*
 * Hint for calls whose context was never bound (bind not captured): the
 * interface the transport believes is behind this association (the named
 * pipe, the endpoint mapper). NULL uuid clears it.
 */
enum dce_hint_source { DCE_HINT_PIPE, DCE_HINT_EPM };
void dce_set_iface_hint(struct dce_assoc *a, const struct uuid *uuid, uint16_t ver_major,
                        enum dce_hint_source source);

/* The first presentation context bound on the association, or NULL (none yet). */
const struct rpc_ctx_item *dce_first_context(const struct dce_assoc *a);

#endif
