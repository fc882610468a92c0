// Status codes shared by the kernel and user space: 0 is success, failures are
// negative named codes.
#pragma once

typedef int status_t;

#define OK                    0
#define ERR_INTERNAL          (-1)
#define ERR_NOT_SUPPORTED     (-2)
#define ERR_NO_RESOURCES      (-3)
#define ERR_NO_MEMORY         (-4)
#define ERR_INVALID_ARGS      (-10)
#define ERR_BAD_HANDLE        (-11)
#define ERR_WRONG_TYPE        (-12)
#define ERR_BAD_SYSCALL       (-13)
#define ERR_OUT_OF_RANGE      (-14)
#define ERR_BUFFER_TOO_SMALL  (-15)
#define ERR_BAD_STATE         (-20)
#define ERR_TIMED_OUT         (-21)
#define ERR_SHOULD_WAIT       (-22)
#define ERR_CANCELED          (-23)
#define ERR_PEER_CLOSED       (-24)
#define ERR_NOT_FOUND         (-25)
#define ERR_ALREADY_EXISTS    (-26)
#define ERR_ACCESS_DENIED     (-30)
#define ERR_REVOKED           (-31) // the handle's revocable group was revoked
#define ERR_IO                (-40)
#define ERR_IO_DATA_INTEGRITY (-42)
#define ERR_BAD_FORMAT        (-50)
#define ERR_PROTOCOL          (-51) // a message breaks its typed channel's protocol

// status_str returns the code's name ("ERR_NO_MEMORY"), or "ERR_?" for an
// unknown value. Defined in the kernel's lib and in libnimbus.
const char *status_str(status_t s);
