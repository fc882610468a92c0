// Paths and directories of the initrd, for the shell and the commands that
// read it (ls, cat, cd). The archive has only file names ("bin/nsh"); a
// directory is a directory entry or any prefix of a name. Pure C: works on
// the archive bytes (struct nb_initrd's base and size) and is host-tested.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cpio.h"
#include "nimbus/status.h"

#define NB_PATH_MAX        256 // with the NUL
#define NB_DIRENT_NAME_MAX 128

// Resolves path against cwd (absolute; NULL or "" means "/") into a
// normalized absolute path: "/", "/bin", "/etc/init.manifest": no empty, "."
// or ".." components (".." of "/" is "/"), no trailing slash. false if the
// result does not fit in size bytes.
bool nb_path_resolve(const char *cwd, const char *path, char *out, size_t size);

enum nb_initrd_kind {
    NB_INITRD_MISSING,
    NB_INITRD_FILE, // a regular file (or another non-directory entry)
    NB_INITRD_DIR,
};

// What the normalized absolute path names in the archive. For a file,
// *entry (if not NULL) receives its entry. A malformed archive counts as
// holding nothing past the damage.
enum nb_initrd_kind nb_initrd_stat(const void *archive, size_t size, const char *path,
                                   struct cpio_entry *entry);

struct nb_dirent {
    char name[NB_DIRENT_NAME_MAX];
    bool dir;
    uint32_t mode; // the entry's mode; 040755 for a directory without one
    size_t size;   // bytes of a file
};

// The entries directly in the directory at the normalized absolute path,
// sorted by name, each once: *out is malloc'd (free it), *count entries.
// ERR_NOT_FOUND if path names nothing, ERR_WRONG_TYPE if it names a file,
// ERR_NO_MEMORY, or cpio_next's error for a malformed archive.
status_t nb_initrd_readdir(const void *archive, size_t size, const char *path,
                           struct nb_dirent **out, size_t *count);
