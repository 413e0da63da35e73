/* The name tables of the record floor (names.h). */
#include <string.h>

#include "rpcsentry/names.h"

const char *const rpc_script_extensions[] = {".bat", ".cmd", ".ps1", ".psm1", ".vbs", ".vbe", ".js",
                                             ".jse", ".wsf", ".wsh", ".hta",  ".py",  NULL};

const char *rpc_class_name(enum rpc_class c)
{
    switch (c) {
    case RPC_CLASS_READ: return "read";
    case RPC_CLASS_CREATE: return "create";
    case RPC_CLASS_MODIFY: return "modify";
    case RPC_CLASS_DELETE: return "delete";
    case RPC_CLASS_EXECUTE: return "execute";
    default: return "other";
    }
}

const char *rpc_transport_name(enum rpc_transport_kind k)
{
    return k == RPC_TRANSPORT_NP ? "ncacn_np" : "ncacn_ip_tcp";
}

const char *rpc_auth_type_name(uint8_t t)
{
    switch (t) {
    case 0: return "none";
    case 9: return "SPNEGO";
    case 10: return "NTLMSSP";
    case 14: return "SCHANNEL";
    case 16: return "Kerberos";
    case 68: return "Netlogon";
    case 255: return "default";
    default: return "unknown";
    }
}

const char *rpc_auth_level_name(uint8_t l)
{
    switch (l) {
    case 1: return "none";
    case 2: return "connect";
    case 3: return "call";
    case 4: return "packet";
    case 5: return "packet_integrity";
    case 6: return "packet_privacy";
    default: return "unknown";
    }
}

const char *rpc_syntax_name(uint8_t s)
{
    switch (s) {
    case RPC_SYNTAX_NDR: return "NDR";
    case RPC_SYNTAX_NDR64: return "NDR64";
    case RPC_SYNTAX_BTFN: return "bind_time_feature_negotiation";
    default: return "unknown";
    }
}

uint8_t rpc_auth_level_of(const char *name)
{
    for (uint8_t l = 1; l <= 6; l++)
        if (strcmp(name, rpc_auth_level_name(l)) == 0)
            return l;
    return 0;
}

const char *dce_ptype_name(uint8_t t)
{
    static const char *const names[] = {
        "REQUEST",   "PING",     "RESPONSE",      "FAULT",
        "WORKING",   "NOCALL",   "REJECT",        "ACK",
        "CL_CANCEL", "FACK",     "CANCEL_ACK",    "BIND",
        "BINDACK",   "BINDNAK",  "ALTER_CONTEXT", "ALTER_CONTEXT_RESP",
        "AUTH3",     "SHUTDOWN", "CO_CANCEL",     "ORPHANED",
        "RTS"};
    return t < sizeof names / sizeof names[0] ? names[t] : "UNKNOWN";
}
