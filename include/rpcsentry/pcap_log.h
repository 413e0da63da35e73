/*
 * The pcap log (-w FILE): the frames of every flow that carried a call about a
 * task or a service or an alert, from the flow's first frame, as captured, in
 * classic pcap files that Wireshark opens (output stage).
 *
 * A flow is not known to matter until a call on it is decoded, so each worker
 * holds the frames of its undecided flows (at most `pcap_log_flow_buffer`
 * bytes a flow, all of them within `pcap_log_memcap`, charged to MEM_PCAP);
 * when a flow is marked (flow_ref target or alerted) what it holds is
 * written and every later frame of it goes straight to the file. A flow that
 * ends unmarked, or that the transport leaves aside, lets its frames go.
 * Frames are written in capture order within a flow; across flows, as each
 * is marked (the file is not sorted by time: reordercap sorts it).
 *
 * One writer for all workers, behind a lock: whole records, never torn. A
 * file per link type (FILE for the first met, FILE with the link type's name
 * before its extension for each other), each rotated by size as tcpdump -C
 * does: FILE, FILE1, FILE2, ...
 */
#ifndef RPCSENTRY_PCAP_LOG_H
#define RPCSENTRY_PCAP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct pcap_log;

/*
 * Opens the writer on path (created now, so that a path that cannot be written
 * fails before capture starts). limit: bytes after which a file is followed by
 * the next one (0: never). NULL with err on failure.
 */
struct pcap_log *pcap_log_open(const char *path, uint64_t limit, char *err, size_t errlen);

/* Flushes and closes every file; false when some write failed (err says which). */
bool pcap_log_close(struct pcap_log *pl, char *err, size_t errlen);

/* Writes what the files hold so far to disk (live: a reader sees it). */
void pcap_log_flush(struct pcap_log *pl);

/* Files opened so far (rotations and link types included). */
uint64_t pcap_log_files(struct pcap_log *pl);

/*
 * Hooks w to the writer (shared, not owned): the worker's hooks and its table
 * of held flows. False when out of memory. pcap_log_detach frees the table,
 * after the worker's flows have ended (worker_teardown).
 */
bool pcap_log_attach(struct worker *w, struct pcap_log *pl);
void pcap_log_detach(struct worker *w);

/*
 * The name of file `index` (0: the first) of a link type whose base is base,
 * as the writer names them: base, base1, base2, ... For tests.
 */
void pcap_log_file_name(const char *base, unsigned index, char *out, size_t outlen);

#endif
