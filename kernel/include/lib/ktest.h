// KTEST: the one test framework of Nimbus. Suites are plain functions grouped
// with KTEST_SUITE; the same suites build into the host test program (with
// ASan/UBSan) and into the kernel, where the `ktest` command-line flag runs
// them at boot. Results are printed as KTAP v1.
//
// EXPECT_* records a failure and continues; ASSERT_* records it and returns
// from the test function.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

struct ktest {
    const char *name;        // the running case
    int failures;            // failed expectations so far
    bool skipped;            // KTEST_SKIP was called
    const char *skip_reason; // static string given to KTEST_SKIP
};

typedef void (*ktest_fn)(struct ktest *t);

struct ktest_case {
    const char *name;
    ktest_fn fn;
};

struct ktest_suite {
    const char *name;
    const struct ktest_case *cases;
    size_t ncases;
};

// One entry per test function inside KTEST_SUITE(...).
#define KTEST_CASE(fn) \
    {                  \
#fn, fn        \
    }

// Defines a suite and registers it in the "ktest_suites" linker section.
#define KTEST_SUITE(sname, ...)                                                               \
    static const struct ktest_case sname##_ktest_cases[] = {__VA_ARGS__};                     \
    static const struct ktest_suite sname##_ktest_suite = {#sname, sname##_ktest_cases,       \
                                                           ARRAY_SIZE(sname##_ktest_cases)};  \
    static const struct ktest_suite *const sname##_ktest_ptr __used __section("ktest_suites") \
        __aligned(8) = &sname##_ktest_suite

void ktest_fail(struct ktest *t, const char *file, int line, const char *fmt, ...) __printf(4, 5);

// Runs every registered suite whose name matches `filter` (a comma-separated
// list of suite names; NULL or "" runs all), printing KTAP v1 through
// ktest_output(). Returns the number of failed test cases.
int ktest_run(const char *filter);

// True if `name` is one of the comma-separated names in `filter`, or the
// filter is NULL or empty (the ktest= and kbench= selections).
bool ktest_name_selected(const char *filter, const char *name);

// Counts from the last ktest_run().
struct ktest_totals {
    int passed, failed, skipped;
};
extern struct ktest_totals ktest_totals;

// Supplied by the environment: the kernel writes to the console, the host
// program to stdout.
void ktest_output(const char *s);

#define KTEST_FAIL_(t, ...) ktest_fail((t), __FILE__, __LINE__, __VA_ARGS__)

#define KTEST_CHECK_(cond, onfail, ...)  \
    do {                                 \
        if (!(cond)) {                   \
            KTEST_FAIL_(t, __VA_ARGS__); \
            onfail;                      \
        }                                \
    } while (0)

#define KTEST_CMP_(a, op, b, onfail)                                                          \
    do {                                                                                      \
        __auto_type a_ = (a);                                                                 \
        __auto_type b_ = (b);                                                                 \
        if (!(a_ op b_)) {                                                                    \
            KTEST_FAIL_(t, "expected %s %s %s (%lld vs %lld, 0x%llx vs 0x%llx)", #a, #op, #b, \
                        (long long)a_, (long long)b_, (unsigned long long)a_,                 \
                        (unsigned long long)b_);                                              \
            onfail;                                                                           \
        }                                                                                     \
    } while (0)

#define KTEST_STREQ_(a, b, onfail)                                                             \
    do {                                                                                       \
        const char *a_ = (a), *b_ = (b);                                                       \
        if (!ktest_str_equal(a_, b_)) {                                                        \
            KTEST_FAIL_(t, "expected %s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)", \
                        b_ ? b_ : "(null)");                                                   \
            onfail;                                                                            \
        }                                                                                      \
    } while (0)

bool ktest_str_equal(const char *a, const char *b);

#define EXPECT_TRUE(c)      KTEST_CHECK_(c, (void)0, "expected %s", #c)
#define EXPECT_FALSE(c)     KTEST_CHECK_(!(c), (void)0, "expected !(%s)", #c)
#define EXPECT_EQ(a, b)     KTEST_CMP_(a, ==, b, (void)0)
#define EXPECT_NE(a, b)     KTEST_CMP_(a, !=, b, (void)0)
#define EXPECT_LT(a, b)     KTEST_CMP_(a, <, b, (void)0)
#define EXPECT_LE(a, b)     KTEST_CMP_(a, <=, b, (void)0)
#define EXPECT_GT(a, b)     KTEST_CMP_(a, >, b, (void)0)
#define EXPECT_GE(a, b)     KTEST_CMP_(a, >=, b, (void)0)
#define EXPECT_NULL(p)      KTEST_CHECK_((p) == NULL, (void)0, "expected %s == NULL", #p)
#define EXPECT_NOT_NULL(p)  KTEST_CHECK_((p) != NULL, (void)0, "expected %s != NULL", #p)
#define EXPECT_STREQ(a, b)  KTEST_STREQ_(a, b, (void)0)
#define EXPECT_OK(s)        EXPECT_STATUS(s, 0)
#define EXPECT_STATUS(s, e) KTEST_STATUS_(s, e, (void)0)

#define ASSERT_TRUE(c)      KTEST_CHECK_(c, return, "expected %s", #c)
#define ASSERT_FALSE(c)     KTEST_CHECK_(!(c), return, "expected !(%s)", #c)
#define ASSERT_EQ(a, b)     KTEST_CMP_(a, ==, b, return )
#define ASSERT_NE(a, b)     KTEST_CMP_(a, !=, b, return )
#define ASSERT_LT(a, b)     KTEST_CMP_(a, <, b, return )
#define ASSERT_LE(a, b)     KTEST_CMP_(a, <=, b, return )
#define ASSERT_GT(a, b)     KTEST_CMP_(a, >, b, return )
#define ASSERT_GE(a, b)     KTEST_CMP_(a, >=, b, return )
#define ASSERT_NULL(p)      KTEST_CHECK_((p) == NULL, return, "expected %s == NULL", #p)
#define ASSERT_NOT_NULL(p)  KTEST_CHECK_((p) != NULL, return, "expected %s != NULL", #p)
#define ASSERT_STREQ(a, b)  KTEST_STREQ_(a, b, return )
#define ASSERT_OK(s)        ASSERT_STATUS(s, 0)
#define ASSERT_STATUS(s, e) KTEST_STATUS_(s, e, return )

#define KTEST_STATUS_(s, e, onfail)                                                            \
    do {                                                                                       \
        int s_ = (s), e_ = (e);                                                                \
        if (s_ != e_) {                                                                        \
            KTEST_FAIL_(t, "%s: expected %s, got %s (%d)", #s, status_str(e_), status_str(s_), \
                        s_);                                                                   \
            onfail;                                                                            \
        }                                                                                      \
    } while (0)

// Marks the running case skipped (reported as "# SKIP reason") and returns.
#define KTEST_SKIP(reason)         \
    do {                           \
        t->skipped = true;         \
        t->skip_reason = (reason); \
        return;                    \
    } while (0)

#include "nimbus/status.h"
