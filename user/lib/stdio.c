// Standard input and output at start-up (nb/fd.h).
#include <stdbool.h>

#include "nb/bootstrap.h"
#include "nb/fd.h"
#include "nb/syscall.h"

// Binds a duplicate of the handle for `role` to fd. A handle that cannot be
// duplicated is handed over itself (libnimbus then no longer has it).
static void bind_role(uint32_t role, int32_t fd, uint32_t flags)
{
    handle_t h = nb_bootstrap_peek(role), d;
    if (h == HANDLE_INVALID)
        return;
    if (nb_handle_duplicate(h, RIGHT_SAME_RIGHTS, &d) != OK)
        d = nb_bootstrap_take(role);
    if (nb_fd_bind(d, fd, flags) != OK)
        nb_handle_close(d);
}

void nb_stdio_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    if (nb_bootstrap_load() != OK)
        return; // no bootstrap channel (under Linux, say): nothing to bind
    uint32_t flags = nb_bootstrap_peek(BOOTSTRAP_ROLE_TTY) != HANDLE_INVALID ? NB_FD_TERMINAL : 0;
    bind_role(BOOTSTRAP_ROLE_STDIN, 0, flags);
    bind_role(BOOTSTRAP_ROLE_STDOUT, 1, flags);
    bind_role(BOOTSTRAP_ROLE_STDERR, 2, flags);
}
