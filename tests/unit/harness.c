#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct test_case *tests;
static int failures_in_test;
static const char *skip_reason;

void test_register(struct test_case *t)
{
    /* keep registration order (constructors run in file order) */
    struct test_case **pp = &tests;
    while (*pp)
        pp = &(*pp)->next;
    *pp = t;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures_in_test++;
}

void test_skip(const char *why)
{
    skip_reason = why;
}
bool test_skipped(void)
{
    return skip_reason != NULL;
}

size_t test_unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; s[0] && s[1] && n < cap; s += 2) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
    }
    return n;
}

bool test_eq_hex(const uint8_t *p, size_t n, const char *hex)
{
    uint8_t want[4096];
    return test_unhex(hex, want, sizeof want) == n && memcmp(p, want, n) == 0;
}

void test_write_file(const char *path, const char *text, unsigned mode)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, (mode_t)mode);
}

const char *test_shared_path(const char *rel, char *buf, size_t n)
{
    const char *root = getenv("RPCSENTRY_SHARED");
    if (!root)
        root = RS_SOURCE_DIR "/../shared";
    snprintf(buf, n, "%s/%s", root, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    bool require_shared =
        getenv("RPCSENTRY_REQUIRE_SHARED") && strcmp(getenv("RPCSENTRY_REQUIRE_SHARED"), "1") == 0;
    int run = 0, failed = 0, skipped = 0;
    for (struct test_case *t = tests; t; t = t->next) {
        if (filter && !strstr(t->name, filter))
            continue;
        failures_in_test = 0;
        skip_reason = NULL;
        t->fn();
        run++;
        if (failures_in_test) {
            failed++;
            fprintf(stderr, "FAIL %s\n", t->name);
        } else if (skip_reason) {
            if (require_shared) {
                failed++;
                fprintf(stderr, "FAIL %s (skipped, but RPCSENTRY_REQUIRE_SHARED=1: %s)\n", t->name,
                        skip_reason);
            } else {
                skipped++;
                fprintf(stderr, "skip %s: %s\n", t->name, skip_reason);
            }
        }
    }
    fprintf(stderr, "%d tests, %d failed, %d skipped\n", run, failed, skipped);
    return failed ? 1 : 0;
}
