// Channel transport for generated protocol stubs (nb/transport.h).
#include "nb/time.h"
#include "nb/syscall.h"
#include "nb/transport.h"

static status_t ct_call(void *ctx, const struct nb_msg_out *req, struct nb_msg_in *reply)
{
    struct nb_channel_transport *ct = ctx;
    uint64_t deadline = ct->timeout_ns ? nb_deadline_after(ct->timeout_ns) : NB_DEADLINE_INFINITE;
    return nb_channel_call(ct->channel, req, reply, deadline);
}

static status_t ct_write(void *ctx, const struct nb_msg_out *msg)
{
    struct nb_channel_transport *ct = ctx;
    return nb_channel_write(ct->channel, msg);
}

static void ct_close(void *ctx, const handle_t *handles, uint32_t n)
{
    (void)ctx;
    for (uint32_t i = 0; i < n; i++)
        nb_handle_close(handles[i]);
}

void nb_channel_transport_init(struct nb_channel_transport *ct, handle_t channel, void *buf,
                               uint32_t buf_size)
{
    *ct = (struct nb_channel_transport){
        .tr = {.ctx = ct,
               .buf = buf,
               .buf_size = buf_size,
               .call = ct_call,
               .write = ct_write,
               .close = ct_close},
        .channel = channel,
    };
}
