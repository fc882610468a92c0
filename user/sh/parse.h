// The shell's lexer and parser: text to a syntax tree of lists, and-or
// lists, pipelines and simple commands. Pure C (host-tested).
//
//   program  := { list-item separator }
//   list     := and-or { (';' | '&' | newline) and-or } [';' | '&']
//   and-or   := pipeline { ('&&' | '||') newline* pipeline }
//   pipeline := ['!'] command { '|' newline* command }
//   command  := (word | redirection)+
//
// Words keep their quotes and `$`: expansion (expand.h) happens when the
// command runs, so `a=1; echo $a` sees the new value.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

enum nsh_redir_op {
    NSH_REDIR_IN,     // [n]<word
    NSH_REDIR_OUT,    // [n]>word, [n]>|word
    NSH_REDIR_APPEND, // [n]>>word
    NSH_REDIR_DUP,    // [n]>&word, [n]<&word: n becomes a copy of descriptor word
};

struct nsh_redir {
    enum nsh_redir_op op;
    int fd;           // the descriptor redirected (default 0 for <, 1 for >)
    const char *word; // the target, unexpanded
};

struct nsh_command {
    char **words; // unexpanded, NULL-terminated
    size_t nwords;
    struct nsh_redir *redirs;
    size_t nredirs;
};

struct nsh_pipeline {
    struct nsh_command *cmds;
    size_t ncmds;
    bool negate; // '!': $? is inverted
};

enum nsh_connector {
    NSH_THEN, // the first pipeline, or after ';'
    NSH_AND,  // &&: runs if the previous status is 0
    NSH_OR,   // ||: runs if the previous status is not 0
};

struct nsh_andor {
    struct nsh_pipeline *pipes;
    enum nsh_connector *conns; // conns[i]: how pipes[i] follows pipes[i-1]
    size_t npipes;
    bool background;  // ended by '&'
    const char *text; // its source text, for job lists
};

struct nsh_program {
    struct nsh_andor *items;
    size_t nitems;
};

enum nsh_parse_result {
    NSH_PARSE_OK,
    NSH_PARSE_INCOMPLETE, // more input could complete it (open quote, trailing | && || \)
    NSH_PARSE_ERROR,      // err says why
};

// Parses src[0..len) into *out (allocated in a). err (errsize bytes) gets a
// message without the "nsh: " prefix on NSH_PARSE_ERROR.
enum nsh_parse_result nsh_parse(const char *src, size_t len, struct nsh_arena *a,
                                struct nsh_program *out, char *err, size_t errsize);

// Whether s[0..len) is a variable name: [A-Za-z_][A-Za-z0-9_]*.
bool nsh_is_name(const char *s, size_t len);
// If word is an assignment NAME=value: the length of NAME, else 0.
size_t nsh_assignment_name_len(const char *word);
