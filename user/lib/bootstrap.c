// Reading the bootstrap message (nb/bootstrap.h) and writing one for a
// process being started.
#include <stdbool.h>
#include <sys/auxv.h>

#include "nb/bootstrap.h"
#include "nb/syscall.h"

extern uint64_t nb_start_rdi; // saved by nb_start (start.S)

// What the start message gave; handles[i] becomes HANDLE_INVALID once taken.
static struct {
    bool loaded;
    status_t status;
    uint32_t count;
    uint32_t roles[BOOTSTRAP_HANDLES_MAX];
    handle_t handles[BOOTSTRAP_HANDLES_MAX];
} boot;

handle_t nb_bootstrap_channel(void)
{
    unsigned long v = getauxval(AT_NIMBUS_BOOTSTRAP);
    if (v == 0)
        v = nb_start_rdi;
    return v <= UINT32_MAX ? (handle_t)v : HANDLE_INVALID;
}

static void close_all(const handle_t *h, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        nb_handle_close(h[i]);
}

static status_t load(void)
{
    handle_t ch = nb_bootstrap_channel();
    uint8_t bytes[BOOTSTRAP_MAX_MSG_BYTES];
    handle_t hs[BOOTSTRAP_MAX_MSG_HANDLES];
    struct nb_msg_in m = {bytes, hs, sizeof(bytes), BOOTSTRAP_MAX_MSG_HANDLES, 0, 0};
    const handle_t *got;
    status_t s;

    if (ch == HANDLE_INVALID)
        return ERR_NOT_FOUND;
    if ((s = nb_channel_read(ch, &m)) != OK)
        return s;
    s = bootstrap_start_request_decode(&m, boot.roles, &got, &boot.count);
    if (s != OK) {
        close_all(hs, m.nhandles);
        return s;
    }
    for (uint32_t i = 0; i < boot.count; i++)
        boot.handles[i] = got[i];
    return OK;
}

status_t nb_bootstrap_load(void)
{
    if (!boot.loaded) {
        boot.status = load();
        boot.loaded = true;
    }
    return boot.status;
}

static handle_t *find(uint32_t role)
{
    if (nb_bootstrap_load() != OK)
        return NULL;
    for (uint32_t i = 0; i < boot.count; i++)
        if (boot.roles[i] == role && boot.handles[i] != HANDLE_INVALID)
            return &boot.handles[i];
    return NULL;
}

handle_t nb_bootstrap_take(uint32_t role)
{
    handle_t *h = find(role);
    if (!h)
        return HANDLE_INVALID;
    handle_t v = *h;
    *h = HANDLE_INVALID;
    return v;
}

handle_t nb_bootstrap_peek(uint32_t role)
{
    handle_t *h = find(role);
    return h ? *h : HANDLE_INVALID;
}

status_t nb_bootstrap_send(handle_t ch, const uint32_t *roles, const handle_t *handles, uint32_t n)
{
    uint8_t bytes[BOOTSTRAP_MAX_MSG_BYTES];
    handle_t hs[BOOTSTRAP_MAX_MSG_HANDLES];
    uint32_t all_roles[BOOTSTRAP_HANDLES_MAX] = {0};
    struct nb_msg_in m = {bytes, hs, sizeof(bytes), BOOTSTRAP_MAX_MSG_HANDLES, 0, 0};

    if (n > BOOTSTRAP_HANDLES_MAX)
        return ERR_OUT_OF_RANGE;
    for (uint32_t i = 0; i < n; i++)
        all_roles[i] = roles[i];
    status_t s = bootstrap_start_request_encode(&m, all_roles, handles, n);
    if (s != OK)
        return s;
    struct nb_msg_out out = {m.bytes, m.handles, m.nbytes, m.nhandles};
    return nb_channel_write(ch, &out);
}
