// nimbus:host
// Names of status codes, for logs and test diagnostics.
#include "lib/compiler.h"
#include "nimbus/status.h"

static const struct {
    status_t code;
    const char *name;
} status_names[] = {
    {OK, "OK"},
    {ERR_INTERNAL, "ERR_INTERNAL"},
    {ERR_NOT_SUPPORTED, "ERR_NOT_SUPPORTED"},
    {ERR_NO_RESOURCES, "ERR_NO_RESOURCES"},
    {ERR_NO_MEMORY, "ERR_NO_MEMORY"},
    {ERR_INVALID_ARGS, "ERR_INVALID_ARGS"},
    {ERR_BAD_HANDLE, "ERR_BAD_HANDLE"},
    {ERR_WRONG_TYPE, "ERR_WRONG_TYPE"},
    {ERR_BAD_SYSCALL, "ERR_BAD_SYSCALL"},
    {ERR_OUT_OF_RANGE, "ERR_OUT_OF_RANGE"},
    {ERR_BUFFER_TOO_SMALL, "ERR_BUFFER_TOO_SMALL"},
    {ERR_BAD_STATE, "ERR_BAD_STATE"},
    {ERR_TIMED_OUT, "ERR_TIMED_OUT"},
    {ERR_SHOULD_WAIT, "ERR_SHOULD_WAIT"},
    {ERR_CANCELED, "ERR_CANCELED"},
    {ERR_PEER_CLOSED, "ERR_PEER_CLOSED"},
    {ERR_NOT_FOUND, "ERR_NOT_FOUND"},
    {ERR_ALREADY_EXISTS, "ERR_ALREADY_EXISTS"},
    {ERR_ACCESS_DENIED, "ERR_ACCESS_DENIED"},
    {ERR_REVOKED, "ERR_REVOKED"},
    {ERR_IO, "ERR_IO"},
    {ERR_IO_DATA_INTEGRITY, "ERR_IO_DATA_INTEGRITY"},
    {ERR_BAD_FORMAT, "ERR_BAD_FORMAT"},
    {ERR_PROTOCOL, "ERR_PROTOCOL"},
};

const char *status_str(status_t s)
{
    for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
        if (status_names[i].code == s)
            return status_names[i].name;
    return "ERR_?";
}
