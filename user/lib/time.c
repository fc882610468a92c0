// Monotonic time helpers (nb/time.h).
#include "nb/syscall.h"
#include "nb/time.h"

uint64_t nb_now(void)
{
    uint64_t ns;
    return nb_clock_get(NB_CLOCK_MONOTONIC, &ns) == OK ? ns : 0;
}

uint64_t nb_deadline_after(uint64_t ns)
{
    uint64_t now = nb_now();
    return ns > NB_DEADLINE_INFINITE - now ? NB_DEADLINE_INFINITE : now + ns;
}
