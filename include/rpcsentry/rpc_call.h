/*
 * The call record: what the DCE/RPC engine hands to iface, detect and output.
 * It describes one request/response pair (or one bind/alter_context
 * exchange) with everything an event needs; later stages read it and add
 * names, class, decoded arguments and indicators. Pointers inside it are
 * valid only for the duration of the callback that receives it.
 */
#ifndef RPCSENTRY_RPC_CALL_H
#define RPCSENTRY_RPC_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/types.h"
#include "rpcsentry/uuid.h"

struct iface_def;
struct iface_op;
struct rpc_args;

enum rpc_class {
    RPC_CLASS_OTHER,
    RPC_CLASS_READ,
    RPC_CLASS_CREATE,
    RPC_CLASS_MODIFY,
    RPC_CLASS_DELETE,
    RPC_CLASS_EXECUTE,
    RPC_CLASS_COUNT
};

enum rpc_transport_kind { RPC_TRANSPORT_TCP, RPC_TRANSPORT_NP };

/* The road a call took to a task or a service, when not the task and service APIs. */
enum rpc_route {
    RPC_ROUTE_NONE,
    RPC_ROUTE_REGISTRY, /* winreg writes that amount to a service or a task */
};

/* The user behind a call, from NTLMSSP AUTHENTICATE (never a secret). */
#define RPC_NAME_MAX 128
struct rpc_identity {
    bool valid;
    char user[RPC_NAME_MAX];
    char domain[RPC_NAME_MAX];
    char host[RPC_NAME_MAX];
};

/* Where an association runs. Filled by the transport; outlives the association. */
struct worker;

struct rpc_transport {
    enum rpc_transport_kind kind;
    struct flow_ref *flow; /* the flow's own ref: detect marks it alerted */
    uint64_t *tx_counter;  /* per-flow transaction numbering */
    char *community_id;    /* the flow's, once a record computed it ("" until then,
                              COMMUNITY_ID_LEN bytes); NULL: not kept */
    /* ncacn_np only: the pipe and the session it was opened in */
    const char *pipe;  /* "svcctl" (without \PIPE\); "" when its open was not seen */
    const char *share; /* "\\\\host\\IPC$", or NULL when not seen */
    uint64_t smb_session_id;
    uint32_t smb_tree_id;
    const char *smb_dialect; /* "NT LM 0.12", "2.10", "3.11", ...; NULL if unknown */
    bool smb_encrypted;      /* the pipe's data came in SMB 3 TRANSFORM_HEADERs, decrypted */
    const struct rpc_identity *smb_identity;
    const char *iface_candidates; /* the pipe's possible interfaces when no bind says which */
    /* ncacn_ip_tcp: the interface the endpoint mapper announced on one of the connection's
       endpoints, asked by the DCE/RPC engine for a call whose bind it has not seen (the
       answer may come after the connection opened); false: none. Set by transport. */
    bool (*mapper_hint)(struct worker *w, const struct rpc_transport *t, struct uuid *iface,
                        uint16_t *ver_major);
};

/* Transfer syntaxes a context can use. */
enum rpc_syntax { RPC_SYNTAX_UNKNOWN, RPC_SYNTAX_NDR, RPC_SYNTAX_NDR64, RPC_SYNTAX_BTFN };

/* A presentation context as proposed in a bind and answered in its ack. */
struct rpc_ctx_item {
    uint16_t ctx_id;
    uint16_t ver_major, ver_minor;
    struct uuid uuid;
    int16_t ack_result; /* -1: no ack seen; 0 accept, 1 user, 2 provider reject, 3 negotiate ack */
    uint16_t ack_reason;
    uint8_t syntax;                /* enum rpc_syntax: accepted, or the first proposed */
    const struct iface_def *iface; /* set by iface */
};

enum rpc_call_kind { RPC_KIND_REQUEST, RPC_KIND_BIND, RPC_KIND_ALTER_CONTEXT };

/* Flags on a call. */
#define RPC_F_MIDSTREAM 0x01    /* the first request fragment was not seen */
#define RPC_F_GAP 0x02          /* bytes were lost inside the call */
#define RPC_F_STUB_TRUNC 0x04   /* stub longer than the configured cap: only its start is kept */
#define RPC_F_GIVEN_UP 0x08     /* response never came (flow end, timeout, call_id reuse) */
#define RPC_F_CTX_UNKNOWN 0x10  /* the context's bind was not seen */
#define RPC_F_IFACE_HINT 0x20   /* interface inferred (named pipe, endpoint mapper), not bound */
#define RPC_F_OVERLAP 0x40      /* the TCP stream had conflicting overlaps */
#define RPC_F_IFACE_EPM 0x80    /* with IFACE_HINT: the endpoint mapper announced the port */
#define RPC_F_ARGS_MEMCAP 0x100 /* the memcap left no room to decode the arguments */

#define RPC_PTYPE_NONE 0xff

struct rpc_call {
    enum rpc_call_kind kind;
    const struct rpc_transport *transport;
    uint64_t tx_id;
    uint32_t call_id;
    uint32_t flags;
    uint8_t client_ep; /* flow endpoint that sent the request */
    uint8_t rpc_vers_minor;
    bool le; /* drep of the request */

    /* authentication seen for this call (request trailer, else the association's) */
    uint8_t auth_type;
    uint8_t auth_level;
    bool sealed;    /* auth level 6: the stub is encrypted */
    bool decrypted; /* sealed, and every stub fragment so far unsealed with its signature
                       verified (--ntlm-secrets): the stubs are plaintext */
    const struct rpc_identity *identity;

    /* request */
    uint8_t req_ptype; /* RPC_PTYPE_NONE when the request was lost */
    uint16_t ctx_id;
    uint16_t opnum;
    bool has_object;
    struct uuid object;
    struct rpc_ctx_item ctx;       /* the context the request used */
    const struct iface_def *iface; /* set by iface */
    const struct iface_op *op;     /* set by iface */
    enum rpc_class cls;            /* set by iface */
    uint32_t req_frags;
    uint64_t req_stub_len; /* all stub bytes seen, even beyond the cap */
    uint64_t req_ts_us, req_pcap_cnt;

    /* response */
    uint8_t res_ptype; /* RESPONSE, FAULT, BINDACK, ...; RPC_PTYPE_NONE = unreplied */
    uint32_t res_frags;
    uint64_t res_stub_len;
    uint32_t fault_status;
    uint64_t res_ts_us, res_pcap_cnt;

    /* bind and alter_context: every context proposed, in order */
    struct rpc_ctx_item *items;
    uint16_t n_items;

    /* stub bytes (kept up to the cap), for decoders and detection during callbacks */
    const uint8_t *req_stub;
    size_t req_stub_avail;
    const uint8_t *res_stub;
    size_t res_stub_avail;

    /* added by iface: decoded arguments, result and indicators (NULL when nothing was decoded) */
    struct rpc_args *args;
    const char *class_detail;    /* e.g. "create_or_update" when the class is a judgement */
    uint32_t indicators;         /* bit per indicator (iface/indicators.c) */
    uint8_t route;               /* enum rpc_route: set by iface; a routed call is a target call */
    const char *route_attack[2]; /* ATT&CK ids of what the routed call amounts to, or NULL */
    bool has_status;             /* the response's return value was read */
    uint32_t status;
    void **iface_state;     /* the association's slot for iface's own state */
    const char *sec_addr;   /* the bind_ack's secondary address ("135", "\\PIPE\\x"), or "" */
    uint8_t req_handle[20]; /* a context handle the request named, for its response */
    bool req_handle_valid;
    /* the rules (gid << 32 | sid) that alerted at the request: not again at the response */
#define RPC_FIRED_MAX 16
    uint64_t fired[RPC_FIRED_MAX];
    uint8_t n_fired;
    bool passed; /* a pass rule matched: no alerts on this call */
};

#endif
