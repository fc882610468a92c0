// Text input line by line (nb/textin.h). Pure C: the host tests build it.
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nb/initrd_dir.h"
#include "nb/textin.h"

void nb_textin_init_mem(struct nb_textin *in, const void *data, size_t size)
{
    *in = (struct nb_textin){.fd = -1, .mem = data, .mem_size = size};
}

void nb_textin_init_fd(struct nb_textin *in, int fd)
{
    *in = (struct nb_textin){.fd = fd, .read_fn = read};
}

void nb_textin_free(struct nb_textin *in)
{
    free(in->buf);
    free(in->line);
    in->buf = in->line = NULL;
    in->line_cap = 0;
    in->start = in->end = 0;
}

// Makes unread bytes available: *p, *avail (0 at the end). false on error.
static bool peek(struct nb_textin *in, const char **p, size_t *avail)
{
    if (in->fd < 0) {
        *p = in->mem + in->mem_pos;
        *avail = in->mem_size - in->mem_pos;
        return true;
    }
    if (in->start == in->end && !in->eof && !in->error) {
        if (!in->buf && !(in->buf = malloc(NB_TEXTIN_CHUNK))) {
            in->error = ENOMEM;
            return false;
        }
        in->start = in->end = 0;
        for (;;) {
            ssize_t n = in->read_fn(in->fd, in->buf, NB_TEXTIN_CHUNK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                in->error = errno ? errno : EIO;
                return false;
            }
            if (n == 0)
                in->eof = true; // a terminal's end-of-file mark counts once: stop there
            in->end = (size_t)n;
            break;
        }
    }
    if (in->error)
        return false;
    *p = in->buf + in->start;
    *avail = in->end - in->start;
    return true;
}

static void consume(struct nb_textin *in, size_t n)
{
    if (in->fd < 0)
        in->mem_pos += n;
    else
        in->start += n;
}

// Room for need bytes in the line buffer.
static bool reserve(struct nb_textin *in, size_t need)
{
    if (need <= in->line_cap)
        return true;
    size_t cap = in->line_cap ? in->line_cap : 128;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = realloc(in->line, cap);
    if (!p) {
        in->error = ENOMEM;
        return false;
    }
    in->line = p;
    in->line_cap = cap;
    return true;
}

int nb_textin_getline(struct nb_textin *in, const char **line, size_t *len, bool *newline)
{
    size_t n = 0;
    for (;;) {
        const char *p;
        size_t avail;
        if (!peek(in, &p, &avail))
            return -1;
        if (avail == 0) {
            if (n == 0)
                return 0;
            *newline = false;
            break;
        }
        const char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        if (take >= SIZE_MAX - n - 1) {
            in->error = ENOMEM;
            return -1;
        }
        if (!reserve(in, n + take + 1))
            return -1;
        memcpy(in->line + n, p, take);
        n += take;
        consume(in, take + (nl ? 1 : 0));
        if (nl) {
            *newline = true;
            break;
        }
    }
    in->line[n] = 0;
    *line = in->line;
    *len = n;
    return 1;
}

int nb_textin_chunk(struct nb_textin *in, const char **data, size_t *len)
{
    const char *p;
    size_t avail;
    if (!peek(in, &p, &avail))
        return -1;
    if (avail == 0)
        return 0;
    consume(in, avail);
    *data = p;
    *len = avail;
    return 1;
}

const char *nb_textin_open_archive(struct nb_textin *in, const void *archive, size_t size,
                                   const char *cwd, const char *arg)
{
    if (!strcmp(arg, "-")) {
        nb_textin_init_fd(in, 0);
        return NULL;
    }
    char path[NB_PATH_MAX];
    if (!nb_path_resolve(cwd, arg, path, sizeof(path)))
        return "path too long";
    struct cpio_entry e;
    switch (nb_initrd_stat(archive, size, path, &e)) {
    case NB_INITRD_MISSING:
        return "no such file";
    case NB_INITRD_DIR:
        return "is a directory";
    case NB_INITRD_FILE:
        break;
    }
    nb_textin_init_mem(in, e.data, e.size);
    return NULL;
}

const char *nb_option_word(int argc, char **argv, int *i)
{
    if (*i >= argc)
        return NULL;
    const char *a = argv[*i];
    if (!strcmp(a, "--")) {
        (*i)++;
        return NULL;
    }
    return a[0] == '-' && a[1] ? a : NULL;
}
