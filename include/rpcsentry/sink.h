/*
 * Sinks move finished lines somewhere; they never format. A sink that cannot
 * take a line counts it as dropped rather than blocking capture.
 */
#ifndef RPCSENTRY_SINK_H
#define RPCSENTRY_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sink {
    const char *name;
    /* writes one line (without its newline); false if the line was dropped */
    bool (*write)(struct sink *s, const char *line, size_t len);
    void (*flush)(struct sink *s);
    void (*reopen)(struct sink *s); /* for log rotation */
    void (*close)(struct sink *s);  /* also frees s */
    uint64_t written, dropped;
};

/* A regular file, appended to ("-" = standard output). NULL and err on failure. */
struct sink *sink_file_open(const char *path, char *err, size_t errlen);

#endif
