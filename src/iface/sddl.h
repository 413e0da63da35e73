/*
 * Security descriptors (MS-DTYP 2.4.6, self-relative) written as SDDL
 * (MS-DTYP 2.5.1), and SDDL text read back far enough to see its deny ACEs.
 * Both are bounded: a cursor over the descriptor's bytes, a fixed output
 * buffer, no allocation, no recursion.
 */
#ifndef RPCSENTRY_IFACE_SDDL_H
#define RPCSENTRY_IFACE_SDDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/args.h"

#define SDDL_MAX 2048    /* SDDL text kept for a record (longer is cut, and says so) */
#define SD_MAX_DENIES 16 /* deny ACEs of a DACL listed */
#define SD_SID_MAX 200   /* "S-1-" + authority + 15 sub-authorities, or an alias */

/* What a descriptor grants or denies, once read. */
struct sd_view {
    char sddl[SDDL_MAX];
    bool sddl_cut;            /* the text did not fit: it ends early */
    char owner[SD_SID_MAX];   /* alias ("BA") or S-1-...; empty when absent */
    char group[SD_SID_MAX];   /* likewise */
    bool has_dacl, null_dacl; /* null_dacl: present but NULL (everyone: all access) */
    unsigned n_aces;          /* of the DACL */
    unsigned n_denies;        /* deny ACEs of the DACL (all of them counted) */
    struct {
        char text[96];        /* the ACE in SDDL, "(D;;DCLCWPDTSD;;;IU)" */
        char sid[SD_SID_MAX]; /* its trustee, alias when it has one */
        uint32_t mask;        /* its access mask */
        uint8_t flags;        /* its ACE flags (IO: applies only to children) */
    } deny[SD_MAX_DENIES];
};

/*
 * Reads a self-relative SECURITY_DESCRIPTOR of len bytes into v. False with
 * *why (a static sentence) when it is cut short, is not self-relative, or its
 * offsets, ACL or ACE sizes or SIDs do not hold together; v is then partial.
 */
bool sd_parse(const uint8_t *p, size_t len, struct sd_view *v, const char **why);

/*
 * Reads SDDL text (a task's, from SchRpcRegisterTask or SchRpcSetSecurity)
 * for its owner, group and DACL deny ACEs; the text itself is not copied
 * into v->sddl. False with *why when the DACL's ACEs do not parse.
 */
bool sd_parse_sddl(const char *s, struct sd_view *v, const char **why);

/*
 * The trustees among IU, SU, BA, WD, AU (interactive users, services,
 * administrators, everyone, authenticated users) that a deny ACE of v (one
 * that is not inherit-only) refuses any of the rights in read_rights: their
 * aliases, space-separated, in out; false when there are none.
 */
bool sd_read_denied(const struct sd_view *v, uint32_t read_rights, char *out, size_t outsz);

/*
 * Rights whose denial hides the object from those who list or query it.
 * Service (MS-SCMR 3.1.4): SERVICE_QUERY_CONFIG 0x1 (CC), SERVICE_QUERY_STATUS
 * 0x4 (LC: what sc query and Get-Service need), SERVICE_ENUMERATE_DEPENDENTS
 * 0x8 (SW), SERVICE_INTERROGATE 0x80 (LO), READ_CONTROL (RC), GENERIC_READ,
 * GENERIC_ALL. Task (a file's rights): FILE_READ_DATA 0x1, FILE_READ_EA 0x8,
 * FILE_READ_ATTRIBUTES 0x80, GENERIC_READ, GENERIC_ALL. Key: KEY_QUERY_VALUE
 * 0x1, KEY_ENUMERATE_SUB_KEYS 0x8, KEY_NOTIFY 0x10, GENERIC_READ, GENERIC_ALL.
 * READ_CONTROL counts for services only: the generic file and key write
 * rights (FW, KW) carry it, and denying writes hides nothing.
 */
#define SD_SERVICE_READ_RIGHTS 0x9002008Du
#define SD_TASK_READ_RIGHTS 0x90000089u
#define SD_KEY_READ_RIGHTS 0x90000019u

/*
 * Adds the object `security_descriptor` under parent: sddl (when from_binary),
 * owner, group, dacl_denies (the deny ACEs as SDDL) and read_denied_to (see
 * sd_read_denied, for read_rights). Returns the object.
 */
uint16_t sd_args(struct rpc_args *a, uint16_t parent, const struct sd_view *v, bool from_binary,
                 uint32_t read_rights);

/*
 * For decoders: the descriptor of len bytes as args.security_descriptor under
 * parent; one that does not decode gives {"error": why} there and a
 * dcerpc.stub_malformed anomaly saying why.
 */
struct worker;
struct rpc_call;
void iface_sd_arg(struct worker *w, struct rpc_call *call, uint16_t parent, const uint8_t *p,
                  size_t len, uint32_t read_rights);
/* Likewise for SDDL text: the object is added only when the DACL has deny ACEs. */
void iface_sddl_arg(struct worker *w, struct rpc_call *call, uint16_t parent, const char *sddl,
                    uint32_t read_rights);

#endif
