/* Inside src/detect: rules as parsed, the matchers, stories. */
#ifndef RPCSENTRY_DETECT_INTERNAL_H
#define RPCSENTRY_DETECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/detect.h"
#include "rpcsentry/uuid.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define RULE_MAX_CONTENT 65535 /* bytes of one content pattern, as Suricata */

/* An address or port list: ranges, each possibly negated. */
struct net_range {
    uint8_t lo[16], hi[16]; /* inclusive, IPv4 in the first 4 bytes */
    uint8_t ipver;          /* 4, 6, or 0 = any */
    bool neg;
};
struct addr_spec {
    struct net_range *r;
    unsigned n;
    bool any;
};
struct port_range {
    uint16_t lo, hi;
    bool neg;
};
struct port_spec {
    struct port_range *r;
    unsigned n;
    bool any;
};

/* What a content or pcre looks at. */
enum buffer_id {
    BUF_STUB,      /* dcerpc.stub_data: request stub (to_server) or response (to_client) */
    BUF_PIPE,      /* rpc.named_pipe */
    BUF_USER,      /* rpc.user: user, or DOMAIN\user */
    BUF_INTERFACE, /* rpc.interface: name (or UUID when unnamed) */
    BUF_OPERATION, /* rpc.operation */
    BUF_ARG,       /* rpc.arg:<path> or one of its shortcuts: every value at the path */
    BUF_STREAM,    /* raw reassembled bytes (byte-level fallback rules) */
};

/* byte_test / byte_jump: read a number from the buffer, compare or move. */
struct byteop {
    char kind; /* 't' test, 'j' jump */
    uint8_t nbytes;
    char op;       /* test: = < > & ^ ! */
    bool dce, big; /* dce: the call's byte order; else big (default) or little */
    int32_t offset;
    uint64_t value;
    int32_t post_offset;
};

enum pattern_kind { PAT_CONTENT, PAT_PCRE, PAT_BYTEOP, PAT_BSIZE };

/* One content, pcre or byte operation, in rule order within its buffer. */
struct pattern {
    uint8_t kind;         /* enum pattern_kind */
    uint8_t buffer;       /* enum buffer_id */
    const char *arg_path; /* BUF_ARG: dotted paths, '|'-separated */
    bool negated, nocase, relative, endswith;
    uint8_t *bytes; /* content */
    size_t len;
    int32_t offset, depth, distance, within; /* -1 = not given */
    bool has_distance, has_within;
    pcre2_code *re;            /* pcre */
    struct byteop bo;          /* byte_test / byte_jump */
    uint64_t size_lo, size_hi; /* bsize: the buffer's whole length within [lo, hi] */
};

struct opnum_range {
    uint16_t lo, hi;
};

/* The rule: its header and every condition. */
struct rule {
    struct rule *next; /* in the engine's list */
    unsigned order;    /* load order */
    bool dropped;      /* a duplicate gid:sid that lost to another */
    char *file;
    unsigned line;
    bool pass; /* `pass` rules silence alerts on the calls they match */
    enum { RP_ANY, RP_DCERPC, RP_SMB, RP_TCP } proto;
    struct addr_spec src, dst;
    struct port_spec sp, dp;
    bool bidirectional;

    /* where it looks */
    enum { FLOW_EITHER, FLOW_TO_SERVER, FLOW_TO_CLIENT } flow;
    bool stream_rule; /* only raw byte content: the fallback path */

    /* Suricata's DCE/RPC keywords */
    bool has_iface;
    struct uuid iface;
    char iface_op; /* 0, '<', '>', '=', '!' */
    uint16_t iface_ver;
    struct opnum_range *opnums;
    unsigned n_opnums;

    /* ours */
    uint32_t classes; /* bit per enum rpc_class; 0 = any */
    char **if_names;  /* rpc.interface:a,b (names or UUIDs) */
    unsigned n_if_names;
    char **op_names; /* rpc.operation:a,b */
    unsigned n_op_names;
    int transport;              /* -1 any, else enum rpc_transport_kind */
    int sealed;                 /* -1 any, 0, 1 */
    int decrypted;              /* -1 any, 0, 1: a sealed stub that --ntlm-secrets opened */
    int target;                 /* -1 any, 0, 1 */
    int route;                  /* -1 any, else enum rpc_route (rpc.route) */
    int inferred;               /* rpc.inferred: interface named without its bind; -1 any */
    uint8_t auth_min, auth_max; /* rpc.auth_level range; 0..255 = any */
    uint32_t indicators;        /* rpc.indicator: any of these bits */
    char *story;                /* rpc.story:kind (story records only) */
    char *smb_file;             /* rpc.smb_file:pe|script|any (fileinfo records only) */
    char *smb_tool;             /* rpc.smb_tool:<tool>|any (a tool's control pipe, smb records) */

    struct pattern *pat;
    unsigned n_pat;
    char **paths; /* rpc.arg paths the patterns point into */
    unsigned n_paths;

    struct alert_info info;
};

/* Parses one rule line; NULL with a message in err. */
struct rule *rule_parse(const char *text, const char *file, unsigned line, char *err,
                        size_t errlen);
void rule_free(struct rule *r);

/* Does the header (addresses, ports) match a flow whose client is endpoint src? */
bool rule_match_header(const struct rule *r, const struct flow_key *k, int src, bool to_client);

/* Does the call match everything but the patterns? (header, keywords) */
bool rule_match_call(const struct rule *r, const struct rpc_call *c, bool at_response);

/* Do the rule's patterns match this call's buffers? */
bool rule_match_patterns(const struct rule *r, const struct rpc_call *c, bool at_response);

/* Raw bytes of a stream direction against a stream rule's patterns. */
bool rule_match_stream(const struct rule *r, const uint8_t *data, size_t len);

/* The classification of classtype names: category text and default priority. */
bool classtype_lookup(const char *name, const char **category, int *priority);

#endif
