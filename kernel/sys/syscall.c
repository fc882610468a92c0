// System call dispatch: native numbers in their own range, everything below
// it to the Linux personality.
#include "nimbus/syscall.h"
#include "sys/syscall.h"
#include "sys/user.h"

int64_t sys_dispatch(uint64_t nr, const uint64_t args[6])
{
    if (nr >= NB_SYSCALL_BASE) {
        uint64_t i = nr - NB_SYSCALL_BASE;
        if (i < native_syscall_count && native_syscalls[i])
            return native_syscalls[i](args);
        return ERR_BAD_SYSCALL;
    }
    return linux_syscall(nr, args);
}
