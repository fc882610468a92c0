// nimbus:host
// cpio "newc" parser for the initrd, shared by the kernel and init. Every
// size read from the archive is checked against what is left of it before
// any offset is computed from it, so no input can make it read outside.
#include <stddef.h>
#include <stdint.h>

#include "lib/cpio.h"

#define MAGIC_LEN      6
#define FIELD_LEN      8
#define FIELD_COUNT    13
#define CPIO_ALIGN     4u
#define TRAILER_NAME   "TRAILER!!!"
#define TRAILER_NAMESZ 11u // with its NUL

// Header fields in archive order, after the magic.
enum cpio_field {
    F_INO,
    F_MODE,
    F_UID,
    F_GID,
    F_NLINK,
    F_MTIME,
    F_FILESIZE,
    F_DEVMAJOR,
    F_DEVMINOR,
    F_RDEVMAJOR,
    F_RDEVMINOR,
    F_NAMESIZE,
    F_CHECK,
};

static const char magic_plain[MAGIC_LEN] = {'0', '7', '0', '7', '0', '1'};
static const char magic_crc[MAGIC_LEN] = {'0', '7', '0', '7', '0', '2'};

static int bytes_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

// Parses exactly 8 hex digits (either case); anything else is malformed.
static status_t hex_field(const uint8_t *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < FIELD_LEN; i++) {
        uint8_t c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return ERR_BAD_FORMAT;
        v = v << 4 | d;
    }
    *out = v;
    return OK;
}

// Padding that brings pos to the next multiple of 4, if the archive has room
// for it: the new position, or 0 (never a valid one) when it does not.
static size_t pad_to_align(size_t pos, size_t size)
{
    size_t pad = (CPIO_ALIGN - pos % CPIO_ALIGN) % CPIO_ALIGN;
    return pad <= size - pos ? pos + pad : 0;
}

// Sum of the data bytes, the "checksum" of a 070702 entry.
static uint32_t data_sum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return sum;
}

// Decodes the header at h (CPIO_HEADER_SIZE bytes available) into f.
static status_t read_header(const uint8_t *h, uint32_t f[FIELD_COUNT], int *with_check)
{
    if (bytes_equal(h, magic_plain, MAGIC_LEN))
        *with_check = 0;
    else if (bytes_equal(h, magic_crc, MAGIC_LEN))
        *with_check = 1;
    else
        return ERR_BAD_FORMAT;
    for (int i = 0; i < FIELD_COUNT; i++)
        if (hex_field(h + MAGIC_LEN + i * FIELD_LEN, &f[i]) != OK)
            return ERR_BAD_FORMAT;
    return OK;
}

// The name must be NUL-terminated exactly at its last byte: no NUL inside,
// none missing.
static int name_well_formed(const char *name, uint32_t namesize)
{
    if (namesize == 0 || name[namesize - 1] != '\0')
        return 0;
    for (uint32_t i = 0; i + 1 < namesize; i++)
        if (name[i] == '\0')
            return 0;
    return 1;
}

status_t cpio_next(const void *archive, size_t size, size_t *offset, struct cpio_entry *out)
{
    const uint8_t *a = archive;
    size_t pos = *offset, data_pos, next;
    uint32_t f[FIELD_COUNT];
    int with_check;

    if (pos % CPIO_ALIGN)
        return ERR_INVALID_ARGS;
    // (1) The header: present in full, magic and fields well formed.
    if (pos > size || size - pos < CPIO_HEADER_SIZE)
        return ERR_BAD_FORMAT;
    if (read_header(a + pos, f, &with_check) != OK)
        return ERR_BAD_FORMAT;
    pos += CPIO_HEADER_SIZE;
    // (2) The name: inside the archive, terminated, then padding.
    const char *name = (const char *)a + pos;
    if (f[F_NAMESIZE] > size - pos || !name_well_formed(name, f[F_NAMESIZE]))
        return ERR_BAD_FORMAT;
    data_pos = pad_to_align(pos + f[F_NAMESIZE], size);
    if (!data_pos)
        return ERR_BAD_FORMAT;
    if (f[F_NAMESIZE] == TRAILER_NAMESZ && bytes_equal(name, TRAILER_NAME, TRAILER_NAMESZ))
        return ERR_NOT_FOUND;
    // (3) The data: inside the archive, then padding.
    if (f[F_FILESIZE] > size - data_pos)
        return ERR_BAD_FORMAT;
    next = pad_to_align(data_pos + f[F_FILESIZE], size);
    if (!next)
        return ERR_BAD_FORMAT;
    if (with_check && data_sum(a + data_pos, f[F_FILESIZE]) != f[F_CHECK])
        return ERR_IO_DATA_INTEGRITY;

    *out = (struct cpio_entry){
        .name = name,
        .name_len = f[F_NAMESIZE] - 1,
        .data = a + data_pos,
        .size = f[F_FILESIZE],
        .mode = f[F_MODE],
        .ino = f[F_INO],
        .mtime = f[F_MTIME],
        .uid = f[F_UID],
        .gid = f[F_GID],
        .nlink = f[F_NLINK],
    };
    *offset = next;
    return OK;
}

const char *cpio_path_strip(const char *path)
{
    for (;;) {
        if (path[0] == '/')
            path++;
        else if (path[0] == '.' && path[1] == '/')
            path += 2;
        else
            return path;
    }
}

static int names_equal(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

status_t cpio_find(const void *archive, size_t size, const char *path, struct cpio_entry *out)
{
    const char *want = cpio_path_strip(path);
    struct cpio_entry e;
    size_t off = 0;
    status_t s;

    while ((s = cpio_next(archive, size, &off, &e)) == OK) {
        if ((e.mode & CPIO_MODE_TYPE_MASK) != CPIO_MODE_REG)
            continue;
        if (names_equal(cpio_path_strip(e.name), want)) {
            *out = e;
            return OK;
        }
    }
    return s;
}
