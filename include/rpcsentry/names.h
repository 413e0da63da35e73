/*
 * The record floor's name tables: the words records and rules use for the
 * numbers the protocols carry. One table each, shared by output (records),
 * detect (rule keywords) and the report. Each returns a static string, never
 * NULL ("unknown" or "other" where the number has no name).
 */
#ifndef RPCSENTRY_NAMES_H
#define RPCSENTRY_NAMES_H

#include <stdint.h>

#include "rpcsentry/rpc_call.h"

/* The extensions of script files (".bat", ".ps1", ...), NULL-terminated: the
   script_file indicator's and the file_type of files written over SMB. */
extern const char *const rpc_script_extensions[];

/* read, create, modify, delete, execute, other */
const char *rpc_class_name(enum rpc_class c);
/* ncacn_ip_tcp, ncacn_np */
const char *rpc_transport_name(enum rpc_transport_kind k);
/* DCE/RPC authentication type (MS-RPCE 2.2.1.1.7): NTLMSSP, Kerberos, SPNEGO, ... */
const char *rpc_auth_type_name(uint8_t type);
/* DCE/RPC authentication level (MS-RPCE 2.2.1.1.8): none ... packet_privacy (1-6) */
const char *rpc_auth_level_name(uint8_t level);
/* The level of a name, 1-6; 0 when it names none. */
uint8_t rpc_auth_level_of(const char *name);
/* The transfer syntax of a presentation context: NDR, NDR64, bind_time_feature_negotiation */
const char *rpc_syntax_name(uint8_t syntax);

/* DCE/RPC PDU types (C706 12.6.4, MS-RPCE 2.2.2.1), and Suricata's names for them:
   "REQUEST", "BINDACK", ... ("UNKNOWN" past RTS) */
enum dce_ptype {
    DCE_REQUEST = 0,
    DCE_PING = 1,
    DCE_RESPONSE = 2,
    DCE_FAULT = 3,
    DCE_WORKING = 4,
    DCE_NOCALL = 5,
    DCE_REJECT = 6,
    DCE_ACK = 7,
    DCE_CL_CANCEL = 8,
    DCE_FACK = 9,
    DCE_CANCEL_ACK = 10,
    DCE_BIND = 11,
    DCE_BIND_ACK = 12,
    DCE_BIND_NAK = 13,
    DCE_ALTER_CONTEXT = 14,
    DCE_ALTER_CONTEXT_RESP = 15,
    DCE_AUTH3 = 16,
    DCE_SHUTDOWN = 17,
    DCE_CO_CANCEL = 18,
    DCE_ORPHANED = 19,
    DCE_RTS = 20,
};
const char *dce_ptype_name(uint8_t ptype);

#endif
