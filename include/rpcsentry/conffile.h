/*
 * The configuration file: YAML, one mapping whose keys are the long option
 * names of the command line (`log-dir: /var/log/rpcsentry`, `workers: 2`,
 * `rules: [a.rules, b.rules]`, `flow-records: true`). A sequence gives a
 * repeatable option once per element. The file is read into (key, value)
 * pairs that the caller applies as if they were options; the command line,
 * applied after, wins.
 */
#ifndef RPCSENTRY_CONFFILE_H
#define RPCSENTRY_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>

struct conf_pair {
    char *key, *value;
    unsigned line;
};

struct conf_file {
    struct conf_pair *pairs;
    size_t n;
};

/* Reads path; false with "path:line: what" in err when it is not such a mapping. */
bool conf_file_read(const char *path, struct conf_file *out, char *err, size_t errlen);
void conf_file_free(struct conf_file *c);

#endif
