/*
 * A small unit-test harness: TEST(name) registers a function; CHECK* record
 * failures with file:line and keep going; SKIP ends a test as skipped.
 * `unit_tests [filter]` runs the tests whose name contains filter.
 */
#ifndef RPCSENTRY_TEST_HARNESS_H
#define RPCSENTRY_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct test_case {
    const char *name;
    void (*fn)(void);
    struct test_case *next;
};

void test_register(struct test_case *t);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void test_skip(const char *why);
bool test_skipped(void);

/* Hex digits to bytes (at most cap); stops at the first pair that is not hex. Returns the
 * count. */
size_t test_unhex(const char *hex, uint8_t *out, size_t cap);
/* Do the n bytes at p equal the hex string (of at most 4096 bytes)? */
bool test_eq_hex(const uint8_t *p, size_t n, const char *hex);

/* Writes text to path, then gives it mode (for the key-file tests). */
void test_write_file(const char *path, const char *text, unsigned mode);

/* Path of a shared reference file (../shared beside the checkout), or NULL if absent. */
const char *test_shared_path(const char *rel, char *buf, size_t n);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    static struct test_case tc_##name = {#name, test_##name, NULL};                                \
    __attribute__((constructor)) static void reg_##name(void)                                      \
    {                                                                                              \
        test_register(&tc_##name);                                                                 \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, "%s", #cond);                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_)                                                                            \
            test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, va_, vb_);             \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                                                 \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                      sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                 \
    } while (0)

#define SKIP(why)                                                                                  \
    do {                                                                                           \
        test_skip(why);                                                                            \
        return;                                                                                    \
    } while (0)

#endif
