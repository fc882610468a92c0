// nimbus:host
// The KTEST runner: walks the "ktest_suites" section and prints KTAP v1.
#include <stdarg.h>

#include "lib/fmt.h"
#include "lib/ktest.h"

extern const struct ktest_suite *const __start_ktest_suites[];
extern const struct ktest_suite *const __stop_ktest_suites[];

struct ktest_totals ktest_totals;

static void outf(const char *fmt, ...) __printf(1, 2);
static void outf(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ktest_output(line);
}

bool ktest_str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

void ktest_fail(struct ktest *t, const char *file, int line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    t->failures++;
    outf("    # %s: %s:%d: %s\n", t->name, file, line, msg);
}

bool ktest_name_selected(const char *filter, const char *name)
{
    if (!filter || !*filter)
        return true;
    const char *p = filter;
    while (*p) {
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p), i = 0;
        while (i < n && name[i] == p[i])
            i++;
        if (i == n && name[n] == 0)
            return true;
        p = *e ? e + 1 : e;
    }
    return false;
}

static bool run_suite(const struct ktest_suite *s, int index)
{
    int failed = 0;
    outf("  KTAP version 1\n");
    outf("  # Subtest: %s\n", s->name);
    outf("  1..%d\n", (int)s->ncases);
    for (size_t i = 0; i < s->ncases; i++) {
        struct ktest t = {.name = s->cases[i].name};
        s->cases[i].fn(&t);
        if (t.skipped && !t.failures) {
            ktest_totals.skipped++;
            outf("  ok %d %s # SKIP %s\n", (int)i + 1, t.name, t.skip_reason);
        } else if (t.failures) {
            failed++;
            ktest_totals.failed++;
            outf("  not ok %d %s\n", (int)i + 1, t.name);
        } else {
            ktest_totals.passed++;
            outf("  ok %d %s\n", (int)i + 1, t.name);
        }
    }
    outf("%s %d %s\n", failed ? "not ok" : "ok", index, s->name);
    return failed == 0;
}

// The registered suites, from the linker section's bounds.
static size_t suite_count(void)
{
    return ((uintptr_t)__stop_ktest_suites - (uintptr_t)__start_ktest_suites) /
           sizeof(__start_ktest_suites[0]);
}

int ktest_run(const char *filter)
{
    int nsuites = 0, index = 0;
    size_t n = suite_count();
    ktest_totals = (struct ktest_totals){0};
    for (size_t i = 0; i < n; i++)
        if (ktest_name_selected(filter, __start_ktest_suites[i]->name))
            nsuites++;
    outf("KTAP version 1\n");
    outf("1..%d\n", nsuites);
    for (size_t i = 0; i < n; i++)
        if (ktest_name_selected(filter, __start_ktest_suites[i]->name))
            run_suite(__start_ktest_suites[i], ++index);
    outf("# ktest: %d passed, %d failed, %d skipped\n", ktest_totals.passed, ktest_totals.failed,
         ktest_totals.skipped);
    return ktest_totals.failed;
}
