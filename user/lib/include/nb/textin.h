// Text input for the commands that read lines (grep, head, tail, wc, sort,
// uniq): each input is a file of the initrd (memory) or a file descriptor
// (standard input), read line by line with no limit on a line's length but
// memory, or in chunks as they come. docs/SHELL.md, "Text commands".
//
// The reader (nb_textin_*) and nb_textin_open_archive are pure C and
// host-tested; nb_textin_open (user/lib/textin_open.c) adds the bootstrap
// initrd handle and the error messages.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NB_TEXTIN_CHUNK 65536 // bytes asked of read() at once (a stream message)

struct nb_textin {
    int fd; // -1: reading memory
    const char *mem;
    size_t mem_size, mem_pos;
    // read(2) by default; the host tests put short reads, EINTR and errors here.
    ssize_t (*read_fn)(int fd, void *buf, size_t n);
    char *buf; // fd mode: NB_TEXTIN_CHUNK bytes, [start, end) unread
    size_t start, end;
    char *line; // the last line, NUL-terminated
    size_t line_cap;
    bool eof;
    int error; // errno of the failure that ended the input (0: none)
};

// Reading size bytes at data (not copied: they must stay while reading).
void nb_textin_init_mem(struct nb_textin *in, const void *data, size_t size);
// Reading a file descriptor (not closed by nb_textin_free).
void nb_textin_init_fd(struct nb_textin *in, int fd);
void nb_textin_free(struct nb_textin *in);

// The next line: *line is NUL-terminated and valid until the next call; *len
// counts its bytes without the newline (a NUL byte inside is kept in *len);
// *newline tells whether a '\n' ended it (false only for a last line without
// one). Returns 1 for a line, 0 at the end, -1 on a read error or when memory
// runs out (in->error: the errno, ENOMEM). An empty input has no line; "\n"
// is one empty line.
int nb_textin_getline(struct nb_textin *in, const char **line, size_t *len, bool *newline);

// The next bytes as they come (for counting): *data, *len > 0, valid until
// the next call. 1, 0 at the end, -1 on error. Mixes with getline.
int nb_textin_chunk(struct nb_textin *in, const char **data, size_t *len);

// Opens the input a command-line argument names: "-" is fd 0; anything else
// is a regular file of the cpio archive (archive, size), its path resolved
// against cwd (NULL: "/"). NULL on success, else why not: "no such file",
// "is a directory", "path too long".
const char *nb_textin_open_archive(struct nb_textin *in, const void *archive, size_t size,
                                   const char *cwd, const char *arg);

// nb_textin_open_archive on the initrd (the bootstrap role `initrd`, mapped
// once) and $PWD. On failure it prints "CMD: ARG: reason" on stderr and
// returns false; "-" needs no initrd.
bool nb_textin_open(struct nb_textin *in, const char *cmd, const char *arg);

// Reports a read error of in (its error) as "CMD: ARG: read error: ..." on
// stderr ("standard input" for "-").
void nb_textin_report(const struct nb_textin *in, const char *cmd, const char *arg);

// Standard output for the text commands: fully buffered in NB_TEXTIN_CHUNK
// bytes unless it is a terminal (then musl's line buffering stays).
// The option words of a command line, which come before its operands
// (POSIX): the word at argv[*i] if it is one ("-x...", "--help"), else NULL:
// at the end, at the first operand, or after "--", which it steps over. In
// every NULL case *i indexes the first operand.
const char *nb_option_word(int argc, char **argv, int *i);

void nb_textout_init(void);
// Writes to standard output (through stdio). false once a write failed:
// stop then (the errno of the first failure is kept for nb_textout_done).
bool nb_textout_write(const void *data, size_t len);
bool nb_textout_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Flushes standard output. false after a write error: the message
// "CMD: write error: ..." is printed unless the reader went away (EPIPE,
// as when `head` ends a pipeline early: there is no SIGPIPE), which ends
// the command quietly.
bool nb_textout_done(const char *cmd);
