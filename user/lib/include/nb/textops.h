// The pure parts of the text commands (docs/SHELL.md, "Text commands"):
// grep's matcher, wc's counts, tail's ring of lines, sort's comparison and
// the parsing of line counts. Host-tested (user/tests/host/textin_test.c).
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ---- grep: one or more patterns (separated by newlines in the pattern
// text, as POSIX grep has it); a line matches when any of them does.
enum {
    NB_MATCH_ICASE = 1 << 0, // -i: ignore case (ASCII letters for -F)
    NB_MATCH_ERE = 1 << 1,   // -E: extended regular expressions (default: basic)
    NB_MATCH_FIXED = 1 << 2, // -F: fixed strings
};

struct nb_match_pat {
    regex_t re;  // not with NB_MATCH_FIXED
    char *fixed; // NB_MATCH_FIXED: the string (lowercased for ICASE)
    size_t len;  // its length
};

struct nb_match {
    int flags;
    size_t count;
    struct nb_match_pat *pats;
};

// Compiles pattern. false with a message in err (regerror's, or "out of
// memory") for a bad expression; nothing to free then.
bool nb_match_init(struct nb_match *m, const char *pattern, int flags, char *err, size_t errsize);
// Whether line (len bytes; line[len] must be NUL) matches. Regular
// expressions see the line up to its first NUL byte; fixed strings all of it.
bool nb_match_line(const struct nb_match *m, const char *line, size_t len);
void nb_match_free(struct nb_match *m);

// ---- wc: lines (newlines), words (runs of bytes other than space, \t, \n,
// \v, \f, \r), bytes. Feed chunks in order; words may span chunks.
struct nb_wc {
    uint64_t lines, words, bytes;
    bool in_word;
};
void nb_wc_add(struct nb_wc *c, const void *data, size_t len);

// ---- tail: the last `max` lines seen, each a private copy. Memory: at
// most max slots, each as big as the longest line it held.
struct nb_ring_line {
    char *data; // len bytes and a NUL
    size_t len, cap;
    bool newline; // the line ended with '\n'
};

struct nb_ring {
    size_t max;   // lines kept
    size_t count; // lines held (<= max)
    size_t next;  // slot of the next push once full (the oldest)
    size_t slots; // slots allocated (grows to max as lines come)
    struct nb_ring_line *ring;
};

void nb_ring_init(struct nb_ring *r, size_t max);
// Keeps a copy of the line, dropping the oldest when full. false: no memory.
bool nb_ring_push(struct nb_ring *r, const char *line, size_t len, bool newline);
// The i-th line held, oldest first (i < r->count).
const struct nb_ring_line *nb_ring_get(const struct nb_ring *r, size_t i);
void nb_ring_free(struct nb_ring *r);

// ---- sort: compare two lines (len bytes each).
enum {
    NB_SORT_NUMERIC = 1 << 0, // -n: by the number at the start
    NB_SORT_REVERSE = 1 << 1, // -r
    NB_SORT_UNIQUE = 1 << 2,  // -u: no fallback to the whole line for equal keys
};
// The key comparison: bytes as unsigned (the C locale), or with
// NB_SORT_NUMERIC the number the line starts with (after blanks: an optional
// '-', digits, optionally '.' and more digits; of any length, compared
// exactly; no number is 0, and -0 is 0). <0, 0, >0.
int nb_sort_key_cmp(const char *a, size_t alen, const char *b, size_t blen, int flags);
// The order sort prints: the key, then (unless NB_SORT_UNIQUE) the whole
// lines byte by byte for equal keys; NB_SORT_REVERSE reverses it all.
int nb_sort_cmp(const char *a, size_t alen, const char *b, size_t blen, int flags);

// ---- head and tail: a line count "N" (decimal digits only, at most
// 2^63-1). false for anything else.
bool nb_parse_count(const char *s, uint64_t *out);
