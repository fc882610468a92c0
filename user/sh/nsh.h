// nsh, the Nimbus shell: the state every part of it shares (main.c reads
// and runs input, exec.c starts programs and waits for jobs, builtins.c,
// input.c reads lines). docs/SHELL.md describes the language.
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "ledit.h"
#include "nb/initrd.h"
#include "nb/initrd_dir.h"
#include "nimbus/handle.h"
#include "parse.h"
#include "policy.h"
#include "vars.h"

#define NSH_PROMPT       "nsh$ "
#define NSH_PROMPT_MORE  "> "
#define NSH_JOBS_MAX     16
#define NSH_PIPE_MAX     16 // commands in one pipeline
#define NSH_JOB_TEXT_MAX 96
#define NSH_POLICY_FILE  "/etc/commands"
#define NSH_DEFAULT_PATH "/bin:/test"
#define NSH_SOURCE_DEPTH 16 // nested `.` / `source`

#define NSH_EXIT_USAGE     2
#define NSH_EXIT_CANNOT    126
#define NSH_EXIT_NOT_FOUND 127
#define NSH_EXIT_INTERRUPT 130 // 128 + SIGINT, as POSIX shells

struct nsh_job {
    int id; // 0: a free slot
    handle_t procs[NSH_PIPE_MAX];
    char names[NSH_PIPE_MAX][32];
    size_t nprocs;
    uint64_t pid; // of the last process
    char text[NSH_JOB_TEXT_MAX];
};

struct nsh {
    struct nb_initrd rd;
    bool have_initrd;
    struct nsh_vars vars;
    struct nsh_policy policy;
    struct nsh_history hist;
    int status;           // $?
    uint64_t last_bg_pid; // $!
    // Our own bootstrap handles (owned by libnimbus), HANDLE_INVALID if none.
    handle_t in, out, err, tty;
    handle_t port; // waits for jobs and Ctrl-C
    uint64_t wait_gen;
    struct nsh_job jobs[NSH_JOBS_MAX];
    bool interactive;
    bool raw_ok; // the tty answers console_set_mode
    int argc;    // positional parameters: argv[0] is $0
    char **argv;
    bool exiting; // `exit` ran
    int exit_code;
    int depth;          // of `.` / `source`
    char scratch[4096]; // lookup results that need building ($@, $?)
};

// ---- main.c
// Runs a script's text (lines, as an interactive shell would); name labels
// error messages. Returns $?.
int nsh_run_text(struct nsh *sh, const char *text, size_t len, const char *name);
// Resolves path against $PWD.
bool nsh_resolve(struct nsh *sh, const char *path, char *out, size_t size);

// ---- exec.c
// Runs a parsed program (lists, and-or, pipelines). a holds its words.
void nsh_run_program(struct nsh *sh, const struct nsh_program *prog, struct nsh_arena *a);
// Reports background jobs that ended ("[1] done  sleep 5") and frees them.
void nsh_jobs_reap(struct nsh *sh, FILE *out);
// Waits for a job and reports its end; its status. Ctrl-C kills it when
// in the foreground (fg), else stops the wait (130) and leaves it running.
int nsh_job_wait(struct nsh *sh, struct nsh_job *job, FILE *out, bool foreground);
// The job with this id, or NULL.
struct nsh_job *nsh_job_find(struct nsh *sh, int id);
// The newest job, or NULL.
struct nsh_job *nsh_job_last(struct nsh *sh);

// ---- builtins.c
typedef int (*nsh_builtin_fn)(struct nsh *sh, int argc, char **argv, FILE *out, FILE *err);
// The builtin called name, or NULL.
nsh_builtin_fn nsh_builtin(const char *name);

// ---- input.c
enum nsh_input {
    NSH_INPUT_LINE,
    NSH_INPUT_EOF,
    NSH_INPUT_CANCEL, // Ctrl-C at the prompt
};
// Reads one line from the terminal (line editing in raw mode when there is
// a tty), without its newline.
enum nsh_input nsh_read_line(struct nsh *sh, const char *prompt, char *line, size_t size);
