/* Shared inside src/keys/ by the store (keys.c) and its file readers (keys_smb.c). */
#ifndef RPCSENTRY_KEYS_INTERNAL_H
#define RPCSENTRY_KEYS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rpcsentry/keys.h"

#define KEYS_NAME_MAX 128
#define KEYS_LINE_MAX 4096

/* Opens a secrets file for reading: refused (err says why, never its text) unless it
 * is a regular file that neither group nor others may read or write. */
bool keys_open_private(const char *path, FILE **out, char *err, size_t errlen);

/*
 * Reads a secrets file (opened by keys_open_private) a line at a time, through a stdio
 * buffer of ours that is wiped: blank lines and `#` comments skipped, each other line,
 * trimmed, handed to fn, which adds it or returns why not. The first refusal ends the
 * read with err = "FILE:LINE: why" (never the line's text), and nothing of the file is
 * kept.
 */
/* Strips the newline and surrounding blanks in place; returns the start. */
char *keys_trim(char *s);

typedef const char *(*keys_line_fn)(struct keystore *ks, char *line);
bool keys_read_lines(struct keystore *ks, const char *path, keys_line_fn fn, char *err,
                     size_t errlen);

/* How many entries the store holds, and: wipes and forgets those from first on
 * (a file that failed half-way leaves nothing behind). */
size_t keys_mark(const struct keystore *ks);
void keys_wipe_tail(struct keystore *ks, size_t first);

#endif
