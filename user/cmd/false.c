// false: does nothing, unsuccessfully ($? = 1).
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: false\nExits with status 1.");
        return 0;
    }
    return 1;
}
