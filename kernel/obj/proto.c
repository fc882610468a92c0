// nimbus:host
// Checking messages of typed channels against their protocol descriptor.
#include "obj/proto.h"
#include "lib/string.h"

static const char *const violation_names[] = {
    [PROTO_OK] = "ok",
    [PROTO_SHORT_HEADER] = "short header",
    [PROTO_UNKNOWN_ORDINAL] = "unknown ordinal",
    [PROTO_TOO_SHORT] = "too short",
    [PROTO_TOO_LONG] = "too long",
    [PROTO_TOO_FEW_HANDLES] = "too few handles",
    [PROTO_TOO_MANY_HANDLES] = "too many handles",
    [PROTO_WRONG_HANDLE_TYPE] = "wrong handle type",
    [PROTO_MISSING_RIGHTS] = "missing rights",
};

const char *proto_violation_str(enum proto_violation v)
{
    return (unsigned)v < sizeof(violation_names) / sizeof(violation_names[0]) ? violation_names[v]
                                                                              : "?";
}

const struct proto_msg_desc *proto_find(const struct proto_desc *d, uint32_t ordinal, uint32_t dir)
{
    for (uint32_t i = 0; i < d->nmsgs; i++)
        if (d->msgs[i].ordinal == ordinal && d->msgs[i].dir == dir)
            return &d->msgs[i];
    return NULL;
}

// The message descriptor a writer on this side may use for `ordinal`.
static const struct proto_msg_desc *find_for_side(const struct proto_desc *d, bool from_server,
                                                  uint32_t ordinal)
{
    if (!from_server)
        return proto_find(d, ordinal, PROTO_DIR_REQUEST);
    const struct proto_msg_desc *m = proto_find(d, ordinal, PROTO_DIR_RESPONSE);
    return m ? m : proto_find(d, ordinal, PROTO_DIR_EVENT);
}

static enum proto_violation check_handles(const struct proto_msg_desc *m,
                                          const struct nb_handle_info *hs, uint32_t nh)
{
    if (nh < m->min_handles)
        return PROTO_TOO_FEW_HANDLES;
    if (nh > m->max_handles)
        return PROTO_TOO_MANY_HANDLES;
    for (uint32_t i = 0; i < nh; i++) {
        const struct proto_handle_desc *slot = &m->handles[i];
        if (slot->type != OBJ_ANY && hs[i].type != slot->type)
            return PROTO_WRONG_HANDLE_TYPE;
        if ((hs[i].rights & slot->rights) != slot->rights)
            return PROTO_MISSING_RIGHTS;
    }
    return PROTO_OK;
}

enum proto_violation proto_check(const struct proto_desc *d, bool from_server, const void *bytes,
                                 uint32_t nbytes, const struct nb_handle_info *hs, uint32_t nh)
{
    struct nb_msg_header hdr;

    if (nbytes < sizeof(hdr))
        return PROTO_SHORT_HEADER;
    memcpy(&hdr, bytes, sizeof(hdr));
    const struct proto_msg_desc *m = find_for_side(d, from_server, hdr.ordinal);
    if (!m)
        return PROTO_UNKNOWN_ORDINAL;
    if (nbytes < m->min_bytes)
        return PROTO_TOO_SHORT;
    if (nbytes > m->max_bytes)
        return PROTO_TOO_LONG;
    return check_handles(m, hs, nh);
}
