/*
 * detect: consumes finished call records, never bytes of the protocols.
 * Rules (Suricata's syntax, the .rules files in signatures/) are matched when a request
 * is complete (alerts fire then) or, for flow:to_client rules, when the call
 * is finished; calls are counted by class; sequences of calls on one target
 * (create, start, delete a service; register, run, delete a task) are
 * recognised as stories. Finally the record goes to output.
 */
#ifndef RPCSENTRY_DETECT_H
#define RPCSENTRY_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/alert.h"
#include "rpcsentry/rpc_call.h"

struct worker;
struct detect;

/*
 * Loads rules: the default rule set (include_default) then each file. A bad
 * rule is reported as "file:line: what is wrong" through report() and the
 * others still load. Returns the engine (never NULL unless out of memory);
 * *errors counts the bad rules.
 */
struct detect *detect_load(bool include_default, const char *const *files, size_t nfiles,
                           void (*report)(const char *msg), unsigned *errors);
void detect_free(struct detect *d);
unsigned detect_rule_count(const struct detect *d);

/* Where the default rule set is read from (installed, or the source tree). */
const char *detect_default_dir(void);

/* The request of a call is complete: rules fire here. */
void detect_request(struct worker *w, struct rpc_call *call);

/* The call is finished (answered or given up): response rules, counts, stories, output. */
void detect_complete(struct worker *w, struct rpc_call *call);

/* Writes stories still waiting for their last piece (end of a capture, shutdown). */
void detect_flush(struct worker *w);

struct smb_file_record;
/* A file written over SMB to a target: a story whose binary it is names it. */
void detect_file(struct worker *w, const struct smb_file_record *f);

struct smb_pipe_record;
/* A tool's pipe (or one that carried no DCE/RPC): its record, and the rules on tools. */
void detect_pipe(struct worker *w, const struct smb_pipe_record *p);

/* Frees the worker's story table (after the last detect_flush). */
void story_table_free(struct worker *w);

/* One story table for several workers (a story's calls may ride connections that different
 * workers see); behind a lock, not accounted to any worker's memory. */
struct story_table;
struct story_table *story_table_new_shared(void);
void story_table_free_shared(struct story_table *t);

/*
 * Byte-level fallback rules over the raw reassembled bytes of every TCP flow.
 * A flow keeps a window (the last STREAM_TAIL bytes of each direction) so a
 * pattern split between segments is found; each rule alerts once per flow.
 */
#define STREAM_TAIL 1024
struct stream_window {
    uint8_t tail[2][STREAM_TAIL];
    uint16_t len[2];
    uint64_t fired; /* bit per stream rule (the first 64) that alerted on this flow */
};
bool detect_has_stream_rules(const struct detect *d);
void detect_stream(struct worker *w, struct flow_ref *flow, int ep, const uint8_t *data, size_t len,
                   struct stream_window *win);

#endif
