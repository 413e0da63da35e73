/*
 * A file written over SMB on a disk share (ADMIN$, C$, any share but IPC$): what the
 * transport hands to output when the client closes it or the connection ends. Pointers
 * are valid only during the callback (worker.on_file).
 */
#ifndef RPCSENTRY_SMB_FILE_H
#define RPCSENTRY_SMB_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "rpcsentry/rpc_call.h"
#include "rpcsentry/types.h"

enum smb_file_kind { SMB_FILE_DATA, SMB_FILE_PE, SMB_FILE_SCRIPT };

struct smb_file_record {
    struct flow_ref *flow;    /* the flow's own ref: detect marks it (the pcap log keeps it) */
    const char *community_id; /* the flow's, or NULL */
    int client_ep;
    uint64_t ts_us, pcap_cnt;        /* the CLOSE, or the end of the connection */
    uint64_t open_us, open_pcap_cnt; /* the CREATE */
    const char *dialect;             /* "2.10", "NT LM 0.12", or NULL */
    bool smb1;
    uint64_t session_id;
    uint32_t tree_id;
    const char *share;                   /* "\\\\host\\ADMIN$" */
    const char *name;                    /* the path inside the share, as sent */
    const struct rpc_identity *identity; /* the session's user, or NULL */
    const uint8_t *fid;                  /* 16 bytes (SMB1: the FID in the first two) */
    uint32_t disposition;                /* CreateDisposition */
    uint32_t create_action;              /* CreateAction of the answer */
    uint64_t size_at_open;               /* EndOfFile of the answer */
    uint64_t written;                    /* data bytes of the WRITEs */
    uint64_t size;                       /* the highest offset written to */
    bool whole;              /* every byte from 0 to size written once, in order, and taken */
    bool gaps;               /* bytes of a WRITE were not in the capture */
    bool refused;            /* a WRITE was refused by the server */
    bool closed;             /* its CLOSE was seen */
    uint8_t sha256[32];      /* of the written content, when whole */
    enum smb_file_kind kind; /* from an MZ header or the name's extension */
};

/* A named pipe that carried no DCE/RPC, or whose name a remote-execution tool uses
 * (\\PSEXESVC, \\RemCom_communicaton, ...): what the transport hands to output when the
 * pipe is closed or its connection ends (worker.on_pipe). */
struct smb_pipe_record {
    struct flow_ref *flow; /* the flow's own ref: an alert marks it */
    const char *community_id;
    int client_ep;
    uint64_t ts_us, pcap_cnt;        /* the CLOSE, or the end */
    uint64_t open_us, open_pcap_cnt; /* the CREATE */
    const char *dialect;
    bool smb1;
    uint64_t session_id;
    uint32_t tree_id;
    const char *share; /* "\\\\host\\IPC$", or "" */
    const char *name;  /* the pipe, without \\PIPE\\ */
    const struct rpc_identity *identity;
    const char *tool;   /* the tool its name belongs to, or NULL */
    const uint8_t *fid; /* 16 bytes (SMB1: the FID in the first two); zero when never opened */
    bool rpc;           /* it carried DCE/RPC after all */
    bool control;       /* the tool's own pipe, not one of its console's (-stdin, RemCom_std*) */
    bool opened;        /* the CREATE succeeded (or the pipe was in use when first seen) */
    bool refused;       /* the CREATE failed (neither: its answer was not seen) */
    uint64_t bytes_to_server, bytes_to_client;
    bool closed;
};

#endif
