/*
 * Hunting over many captures: a progress line on stderr while they are read
 * (files done, bytes, rate, time left) and, at the end, a table of what each
 * capture held: calls on the task and service interfaces by class, alerts by
 * severity, stories; the most serious capture first.
 */
#ifndef RPCSENTRY_HUNT_H
#define RPCSENTRY_HUNT_H

#include <stdbool.h>
#include <stdio.h>

#include "rpcsentry/capture.h"
#include "rpcsentry/stats.h"

struct hunt;

/* files: as capture_expand gave them; progress: draw the progress line (on stderr). */
struct hunt *hunt_start(const struct capture_input *files, bool progress);
/* Capture idx is being read / has been read; totals: the counters summed so far. */
enum hunt_outcome { HUNT_READ, HUNT_FAILED, HUNT_SKIPPED /* in a directory, not a capture */ };
void hunt_file_begin(struct hunt *h, size_t idx);
void hunt_file_end(struct hunt *h, size_t idx, const struct stats *totals, enum hunt_outcome o);
/* Stops the progress line and clears it. */
void hunt_stop_progress(struct hunt *h);
/* The table; rows for captures with neither target calls nor alerts are folded into one line. */
void hunt_print_table(const struct hunt *h, FILE *f);
void hunt_free(struct hunt *h);

#endif
