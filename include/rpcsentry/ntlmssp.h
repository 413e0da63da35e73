/*
 * NTLMSSP (MS-NLMP): the user, domain and workstation of an AUTHENTICATE
 * message, found raw or inside SPNEGO/GSS-API wrapping. Serves DCE/RPC auth
 * trailers and SMB SESSION_SETUP alike. Never extracts a response or a key.
 */
#ifndef RPCSENTRY_NTLMSSP_H
#define RPCSENTRY_NTLMSSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/rpc_call.h"

enum ntlmssp_type {
    NTLMSSP_NONE = 0,
    NTLMSSP_NEGOTIATE = 1,
    NTLMSSP_CHALLENGE = 2,
    NTLMSSP_AUTHENTICATE = 3
};

/*
 * Looks for an NTLMSSP message in blob (raw, or wrapped in SPNEGO). Returns
 * its type, or NTLMSSP_NONE. For AUTHENTICATE, fills id and sets id->valid
 * (an empty user name is an anonymous logon).
 */
enum ntlmssp_type ntlmssp_parse(const uint8_t *blob, size_t len, struct rpc_identity *id);

#endif
