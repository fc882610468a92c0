// User-space logic on the host (ASan, UBSan): the init manifest parser, the
// event loop's key table, bootstrap role names. KTAP v1 on stdout.
// Usage: user-host-tests [suite,suite...]
#include <stdio.h>

#include "lib/ktest.h"

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return ktest_run(argc > 1 ? argv[1] : NULL) ? 1 : 0;
}
