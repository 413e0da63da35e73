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

#endif
