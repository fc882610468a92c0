// Paths and directories of the initrd (nb/initrd_dir.h). Pure C: the host
// tests build it too.
#include <stdlib.h>
#include <string.h>

#include "nb/initrd_dir.h"

#define DIR_MODE_DEFAULT (CPIO_MODE_DIR | 0755u)

bool nb_path_resolve(const char *cwd, const char *path, char *out, size_t size)
{
    size_t len = 0;
    if (size < 2)
        return false;
    out[0] = 0;
    // Two passes: cwd (when path is relative), then path.
    const char *parts[2] = {path[0] == '/' ? NULL : cwd, path};
    for (int pass = 0; pass < 2; pass++) {
        const char *p = parts[pass];
        while (p && *p) {
            while (*p == '/')
                p++;
            const char *end = strchr(p, '/');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (n == 0 || (n == 1 && p[0] == '.')) {
                // nothing
            } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                while (len > 0 && out[len - 1] != '/')
                    len--;
                if (len > 0)
                    len--; // the slash before the dropped component
                out[len] = 0;
            } else {
                if (len + 1 + n + 1 > size)
                    return false;
                out[len++] = '/';
                memcpy(out + len, p, n);
                len += n;
                out[len] = 0;
            }
            p += n;
        }
    }
    if (!len) {
        out[0] = '/';
        out[1] = 0;
    }
    return true;
}

// The archive name of an entry without "./" or "/" in front; NULL for the
// root itself ("" or ".").
static const char *entry_name(const struct cpio_entry *e)
{
    const char *n = cpio_path_strip(e->name);
    if (!n[0] || !strcmp(n, "."))
        return NULL;
    return n;
}

// If name lies under dir (archive form: "" for the root, else "bin"): the
// rest of it after "dir/", else NULL.
static const char *under(const char *name, const char *dir, size_t dlen)
{
    if (!dlen)
        return name;
    if (strncmp(name, dir, dlen) || name[dlen] != '/')
        return NULL;
    return name + dlen + 1;
}

enum nb_initrd_kind nb_initrd_stat(const void *archive, size_t size, const char *path,
                                   struct cpio_entry *entry)
{
    const char *want = cpio_path_strip(path);
    size_t wlen = strlen(want);
    if (!wlen)
        return NB_INITRD_DIR;
    enum nb_initrd_kind kind = NB_INITRD_MISSING;
    struct cpio_entry e;
    size_t off = 0;
    while (cpio_next(archive, size, &off, &e) == OK) {
        const char *n = entry_name(&e);
        if (!n)
            continue;
        if (!strcmp(n, want)) {
            if ((e.mode & CPIO_MODE_TYPE_MASK) == CPIO_MODE_DIR)
                return NB_INITRD_DIR;
            if (kind == NB_INITRD_MISSING) {
                kind = NB_INITRD_FILE;
                if (entry)
                    *entry = e;
            }
        } else if (under(n, want, wlen)) {
            return NB_INITRD_DIR;
        }
    }
    return kind;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct nb_dirent *)a)->name, ((const struct nb_dirent *)b)->name);
}

status_t nb_initrd_readdir(const void *archive, size_t size, const char *path,
                           struct nb_dirent **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    enum nb_initrd_kind kind = nb_initrd_stat(archive, size, path, NULL);
    if (kind == NB_INITRD_MISSING)
        return ERR_NOT_FOUND;
    if (kind == NB_INITRD_FILE)
        return ERR_WRONG_TYPE;
    const char *dir = cpio_path_strip(path);
    size_t dlen = strlen(dir);
    struct nb_dirent *list = NULL;
    size_t n = 0, cap = 0;
    struct cpio_entry e;
    size_t off = 0;
    status_t s;
    while ((s = cpio_next(archive, size, &off, &e)) == OK) {
        const char *name = entry_name(&e);
        const char *rest = name ? under(name, dir, dlen) : NULL;
        if (!rest || !rest[0])
            continue;
        const char *slash = strchr(rest, '/');
        size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
        if (len >= NB_DIRENT_NAME_MAX)
            len = NB_DIRENT_NAME_MAX - 1;
        bool is_dir = slash || (e.mode & CPIO_MODE_TYPE_MASK) == CPIO_MODE_DIR;
        size_t i;
        for (i = 0; i < n; i++)
            if (strlen(list[i].name) == len && !strncmp(list[i].name, rest, len))
                break;
        if (i == n) {
            if (n == cap) {
                cap = cap ? cap * 2 : 32;
                struct nb_dirent *bigger = realloc(list, cap * sizeof(*bigger));
                if (!bigger) {
                    free(list);
                    return ERR_NO_MEMORY;
                }
                list = bigger;
            }
            list[n] = (struct nb_dirent){.dir = is_dir, .mode = DIR_MODE_DEFAULT};
            memcpy(list[n].name, rest, len);
            list[n].name[len] = 0;
            n++;
        }
        if (!slash) { // the entry itself: its own mode and size
            list[i].mode = e.mode;
            list[i].size = is_dir ? 0 : e.size;
            list[i].dir = is_dir;
        }
    }
    if (s != ERR_NOT_FOUND) {
        free(list);
        return s;
    }
    if (n)
        qsort(list, n, sizeof(*list), by_name);
    *out = list;
    *count = n;
    return OK;
}
