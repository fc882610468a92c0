// sleep: waits the given number of seconds ("2", "0.1", "1.5m": suffixes
// s, m, h; several arguments add up).
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nb/syscall.h"
#include "nb/time.h"

#define MAX_SECONDS (100ull * 365 * 24 * 3600) // a century is enough

static int usage(void)
{
    fputs("usage: sleep SECONDS...\n"
          "Waits SECONDS (fractions allowed; suffix s, m or h for seconds, minutes, hours;\n"
          "several add up).\n",
          stderr);
    return 2;
}

// "1", "0.25", "2.5m": nanoseconds, or false if malformed or too long.
static bool parse(const char *s, uint64_t *ns)
{
    uint64_t whole = 0, frac = 0, scale = NB_NSEC_PER_SEC;
    const char *p = s;
    bool digits = false;
    for (; *p >= '0' && *p <= '9'; p++, digits = true) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > MAX_SECONDS)
            return false;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*p - '0') * scale;
            }
    }
    uint64_t unit = 1;
    if (*p == 's')
        p++;
    else if (*p == 'm')
        unit = 60, p++;
    else if (*p == 'h')
        unit = 3600, p++;
    if (!digits || *p || whole * unit > MAX_SECONDS)
        return false;
    *ns = (whole * NB_NSEC_PER_SEC + frac) * unit;
    return true;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        usage();
        return 0;
    }
    if (argc < 2) {
        fputs("sleep: missing operand\n", stderr);
        return usage();
    }
    uint64_t total = 0;
    for (int i = 1; i < argc; i++) {
        uint64_t ns;
        if (!parse(argv[i], &ns)) {
            fprintf(stderr, "sleep: invalid time interval '%s'\n", argv[i]);
            return usage();
        }
        total += ns;
    }
    uint64_t deadline = nb_deadline_after(total);
    status_t s;
    // Sleeps until the deadline, also when woken early.
    while ((s = nb_nanosleep(deadline)) == OK && nb_now() < deadline)
        ;
    if (s != OK) {
        fprintf(stderr, "sleep: %s\n", status_str(s));
        return 1;
    }
    return 0;
}
