// The host test program: runs the portable KTEST suites under ASan and UBSan
// and prints KTAP v1. Usage: ktest-host [suite,suite...]
#include <stdio.h>

#include "lib/ktest.h"

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return ktest_run(argc > 1 ? argv[1] : NULL) ? 1 : 0;
}
