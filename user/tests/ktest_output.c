// Where the kernel's KTEST runner (kernel/lib/ktest.c) prints in user test
// programs and the user host tests: stdout.
#include <stdio.h>

#include "lib/ktest.h"

void ktest_output(const char *s)
{
    fputs(s, stdout);
    fflush(stdout);
}
