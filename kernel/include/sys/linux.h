// The Linux personality: the Linux x86_64 system call ABI, enough for static
// musl programs. Errors are negative errno values, as Linux returns them.
#pragma once

#include <stdint.h>

#include "nimbus/status.h"

// Linux errno values used here.
#define LNX_EPERM     1
#define LNX_ENOENT    2
#define LNX_ESRCH     3
#define LNX_EINTR     4
#define LNX_EIO       5
#define LNX_EBADF     9
#define LNX_EAGAIN    11
#define LNX_ENOMEM    12
#define LNX_EACCES    13
#define LNX_EFAULT    14
#define LNX_EEXIST    17
#define LNX_EINVAL    22
#define LNX_ENOTTY    25
#define LNX_ERANGE    34
#define LNX_ENOSYS    38
#define LNX_ETIMEDOUT 110

// The errno for a Nimbus status.
int linux_errno(status_t st);
