/*
 * The record floor's alerts and stories: what detect hands output, written
 * by detect and read-only from then on. An alert_info lives as long as the
 * rule set it came from; a story is the detect stage's until output_story
 * returns.
 */
#ifndef RPCSENTRY_ALERT_H
#define RPCSENTRY_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#include "rpcsentry/hash.h"
#include "rpcsentry/rpc_call.h"
#include "rpcsentry/types.h"

/* What an alert says, from its rule. */
struct alert_info {
    uint32_t gid, sid, rev;
    char *msg;
    char *classtype;
    const char *category; /* the classtype's description */
    int severity;         /* priority: 1 highest */
    char *metadata;       /* "key value, key value", as written in the rule */
    char **references;
    unsigned n_refs;
    /* the "alert" member as EVE writes it, without and with references: made once, when the
     * rule is read (output_alert_render), not parsed from metadata at every alert */
    char *rendered[2];
    size_t rendered_len[2];
};

/* A story: several calls on one target that together execute something. */
#define STORY_MAX_PIECES 8
struct story_piece {
    uint64_t ts_us, flow_id, tx_id;
    uint32_t call_id;
    const char *operation;
    enum rpc_class cls;
};
struct rpc_story {
    const char *kind;     /* service_create_start_delete, task_register_run_delete, ... */
    char summary[1024];   /* one line for people */
    struct flow_ref flow; /* of the call that completed it */
    char community_id[COMMUNITY_ID_LEN]; /* that flow's, "" when no record had made it yet */
    uint8_t client_ep;
    const struct rpc_transport *transport; /* of that call; may be NULL when flushed */
    char name[256];                        /* service or task, "" when sealed */
    char detail[512];                      /* binary path or command, when known */
    char user[256];
    bool sealed;
    bool over_smb;
    struct story_piece pieces[STORY_MAX_PIECES];
    unsigned n_pieces;
    uint64_t ts_us, pcap_cnt;
    /* the file its binary came in by: written over SMB to the target before (story.c) */
    struct story_file {
        bool seen, whole;
        bool by_time; /* the calls were sealed: the executable written just before */
        bool pe;
        char path[400]; /* \\host\ADMIN$\x.exe */
        uint8_t sha256[32];
        uint64_t size, flow_id, ts_us, pcap_cnt;
    } file;
};

#endif
