// true: does nothing, successfully. The smallest command, and the shell's
// tests' way to get $? = 0.
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        puts("usage: true\nExits with status 0.");
        return 0;
    }
    return 0;
}
