// cpio "newc" archives in memory: the initrd format (as Linux initramfs).
//
// Portable: needs only <stddef.h>, <stdint.h> and nimbus/status.h, so the
// same file builds into the kernel, the host tests and libnimbus (init parses
// the initrd itself).
//
// An archive is a run of entries, each a 110-byte header of ASCII fields
// ("070701" or "070702", then 13 fields of 8 hex digits), the NUL-terminated
// name, padding to 4 bytes, the file data, padding to 4 bytes. The entry named
// "TRAILER!!!" ends it. Offsets are counted from the start of the archive.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nimbus/status.h"

#define CPIO_HEADER_SIZE 110u

// File type bits of cpio_entry.mode (as in stat's st_mode).
#define CPIO_MODE_TYPE_MASK 0170000u
#define CPIO_MODE_REG       0100000u
#define CPIO_MODE_DIR       0040000u
#define CPIO_MODE_LNK       0120000u

// One entry; pointers point into the archive.
struct cpio_entry {
    const char *name;  // NUL-terminated, as stored ("./etc/x", "etc/x" ...)
    size_t name_len;   // without the NUL
    const void *data;  // file data (symlink target for CPIO_MODE_LNK)
    size_t size;       // bytes of data
    uint32_t mode;     // type and permission bits
    uint32_t ino;      // inode number chosen by the archiver
    uint32_t mtime;    // seconds since 1970
    uint32_t uid, gid; // owner
    uint32_t nlink;    // link count
};

// Reads the entry at *offset (0 for the first; must be a multiple of 4) and
// advances *offset to the next one.
// OK: *out filled. ERR_NOT_FOUND: *offset is at the trailer (the end; *offset
// stays). ERR_BAD_FORMAT: truncated or malformed entry, or the archive ends
// without a trailer. ERR_IO_DATA_INTEGRITY: a "070702" entry whose checksum
// does not match its data. ERR_INVALID_ARGS: misaligned *offset.
// *out is written only on OK.
status_t cpio_next(const void *archive, size_t size, size_t *offset, struct cpio_entry *out);

// Finds the first regular file named `path` ("init", "./init" and "/init"
// name the same entry: leading "/" and "./" are ignored on both sides).
// Directories, links and other entries are skipped. OK, ERR_NOT_FOUND, or an
// error of cpio_next met before the file was found.
status_t cpio_find(const void *archive, size_t size, const char *path, struct cpio_entry *out);

// path without its leading "/" and "./" components (the part find compares).
const char *cpio_path_strip(const char *path);
