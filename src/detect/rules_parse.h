/*
 * The rule parser's shared parts (rules.c: the header, addresses, ports and the
 * option loop; rules_keywords.c: patterns and every keyword through one table).
 * Internal to detect/.
 */
#ifndef RPCSENTRY_RULES_PARSE_H
#define RPCSENTRY_RULES_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "detect_internal.h"

#define MAX_PATTERNS 32
#define MAX_LIST 64

struct parse {
    struct rule *r;
    char *err;
    size_t errlen;
    int buffer;           /* current sticky buffer, -1 = none yet */
    const char *arg_path; /* for BUF_ARG */
};

/* Writes the error into p->err; returns false (for `return rp_fail(...)`). */
bool rp_fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Room for one more element after the n of arr (realloc'd in place); a rule error when
 * memory runs out, arr untouched. */
#define GROW(p, arr, n)                                                                            \
    __extension__({                                                                                \
        void *q_ = realloc((arr), ((n) + 1) * sizeof *(arr));                                      \
        q_ ? ((arr) = q_, true) : rp_fail((p), "out of memory");                                   \
    })

/* s without leading and trailing white space (in place). */
char *rp_trim(char *s);
/* Takes the quotes off a quoted value (in place); what names the value in an error. */
bool rp_unquote(struct parse *p, char *v, const char *what);
bool rp_uint(const char *s, unsigned long long max, unsigned long long *out);
bool rp_int(const char *s, long long lo, long long hi, int32_t *out);

/* One option of a rule: `name` or `name:value` (v NULL for none), through the keyword table. */
bool rule_option(struct parse *p, char *name, char *v);

#endif
