"""The shell on the serial console: the default manifest ends at the nsh
prompt on a terminal of the console service; lines typed into COM1 reach
nsh, which edits them, runs builtins and programs from the initrd and keeps
$? (docs/SHELL.md)."""

import re
import time

import nimbuslib as nl

from nshlib import PROMPT, STEP_TIMEOUT, run_line, start_vm

TIMEOUT = STEP_TIMEOUT


def test_shell_session():
    vm = start_vm()
    try:
        run_line(vm, "echo hello world", r"^hello world$")
        run_line(vm, "hello", r"^ok 1 hello$")
        run_line(vm, "echo $?", r"^0$")
        run_line(vm, "nosuchcmd", r"^nsh: nosuchcmd: not found$")
        run_line(vm, "echo $?", r"^127$")
        run_line(vm, "/test/crash null-read",
                 r"^nsh: /test/crash: faulted \(exit code 139: page or protection fault\)$")
        run_line(vm, "echo $?", r"^139$")
        # A crash found through $PATH (/test); the shell lives on.
        run_line(vm, "crash null-write; echo alive $?",
                 r"^nsh: crash: faulted \(exit code 139: .*\)$", r"^alive 139$")
        # Line editing of the kernel's line discipline: DEL erases a
        # character, Ctrl-U the whole line.
        run_line(vm, "echo abx\x7fc; echo $?", r"^abc$", r"^0$")
        run_line(vm, "garbage\x15echo kept", r"^kept$")
    finally:
        vm.kill()


def test_shell_language():
    vm = start_vm()
    try:
        # Quoting: single quotes keep everything, double quotes expand $,
        # backslash escapes one character; unquoted expansions split.
        run_line(vm, "v='two  words'; echo \"[$v]\" '[$v]' [$v] x\\ \\$v ${v}s",
                 r"^\[two  words\] \[\$v\] \[two words\] x \$v two wordss$")
        run_line(vm, "echo \"a \\\"quoted\\\" b\" 'it''s' \"\" end", r'^a "quoted" b its  end$')
        run_line(vm, "echo one # a comment", r"^one$")
        run_line(vm, "echo pid $$", r"^pid \d+$")
        # ; && || ! and $?
        run_line(vm, "false; echo $?", r"^1$")
        run_line(vm, "false && echo no; true && echo yes || echo no2", r"^yes$")
        run_line(vm, "false || echo fallback; ! false; echo $?", r"^fallback$", r"^0$")
        run_line(vm, "true && false || echo either", r"^either$")
        # Variables reach programs only when exported.
        run_line(vm, "A=local; export B=exported; nsh -c 'echo A=$A B=$B'", r"^A= B=exported$")
        run_line(vm, "A=prefix nsh -c 'echo A=$A'; echo after=$A", r"^A=prefix$",
                 r"^after=local$")
        run_line(vm, "unset B; nsh -c 'echo B=$B'", r"^B=$")
        # Redirections are parsed, refused until there is a file system.
        run_line(vm, "echo hi > /x; echo $?",
                 r"^nsh: redirection needs a file system \(not yet available\)$", r"^1$")
        run_line(vm, "cat < /etc/commands", r"^nsh: redirection needs a file system")
        run_line(vm, "echo hi 2>>/err", r"^nsh: redirection needs a file system")
        # Syntax errors run nothing; open quotes continue on the next line.
        run_line(vm, "echo a ;; echo b", r"^nsh: syntax error near ';'$")
        run_line(vm, "echo $?", r"^2$")
        vm.send("echo 'first\r")
        assert vm.expect(r"^> ", TIMEOUT), vm.output[-2000:]
        run_line(vm, "second'", r"^first$", r"^second$")
        # Scripts: in a new shell with arguments, and sourced.
        run_line(vm, "nsh /etc/hello.nsh world",
                 r"^hello from a script \(/etc/hello.nsh, 1 arguments: world\)$",
                 r"^true && ran$", r"^false \|\| ran, status 1$")
        run_line(vm, "cd /etc; . hello.nsh; pwd",
                 r"^hello from a script \(/bin/nsh, 0 arguments: \)$", r"^PWD is /etc$",
                 r"^/etc$")
        run_line(vm, "cd /nowhere; echo $?",
                 r"^nsh: cd: /nowhere: no such directory .*$", r"^1$")
        run_line(vm, "cd; nsh nosuch.nsh; echo $?", r"^nsh: nosuch.nsh: no such file$",
                 r"^127$")
        run_line(vm, "type cd ls", r"^cd is a shell builtin$", r"^ls is /bin/ls$")
        run_line(vm, "history", r"^ +\d+  type cd ls$")
    finally:
        vm.kill()


def test_shell_commands_and_jobs():
    vm = start_vm()
    try:
        run_line(vm, "ls", r"^bin$", r"^etc$", r"^init$", r"^test$")
        run_line(vm, "ls -l /bin", r"^-rwxr-xr-x +\d+ cat$", r"^-rwxr-xr-x +\d+ nsh$")
        run_line(vm, "ls /nope; echo $?", r"^ls: /nope: no such file or directory$", r"^1$")
        run_line(vm, "cat /etc/commands", r"^ls +initrd$", r"^poweroff +power$")
        run_line(vm, "cat /etc; echo $?", r"^cat: /etc: is a directory$", r"^1$")
        run_line(vm, "echo -n no newline; echo .", r"^no newline\.$")
        run_line(vm, "sleep 0.1; echo slept $?", r"^slept 0$")
        run_line(vm, "sleep x; echo $?", r"^sleep: invalid time interval 'x'$", r"^2$")
        run_line(vm, "ls --help", r"^usage: ls ")
        # /etc/commands gives utest log?,initrd,self,vmex?: it starts children.
        run_line(vm, "utest", r"^# ktest: \d+ passed, 0 failed, 0 skipped$")
        # Background jobs: reported before the next prompt once ended, listed
        # while running (sleeps long enough for a loaded host), waited for.
        run_line(vm, "sleep 0.5 &", r"^\[1\] \d+$")
        run_line(vm, "sleep 1", r"^\[1\] done  sleep 0.5$")
        run_line(vm, "crash null-read & wait; echo waited", r"^\[1\] \d+$",
                 r"^\[1\] faulted \(exit code 139: .*\)  crash null-read$", r"^waited$")
        run_line(vm, "sleep 3 &", r"^\[1\] \d+$")
        run_line(vm, "sleep 2 & jobs", r"^\[2\] \d+$", r"^\[1\] running  sleep 3$",
                 r"^\[2\] running  sleep 2$")
        run_line(vm, "wait %2; echo $?", r"^\[2\] done  sleep 2$", r"^0$")
        run_line(vm, "fg", r"^sleep 3$", r"^\[1\] done  sleep 3$")
        run_line(vm, "jobs; wait %1", r"^nsh: wait: %1: no such job$")
        # 200 programs in a row: no handle or memory leak kills the shell.
        for i in range(20):
            run_line(vm, "; ".join(["true"] * 9 + [f"echo batch {i}"]), rf"^batch {i}$")
        run_line(vm, "echo $?", r"^0$")
        # exit ends the shell; init starts it again. So does Ctrl-D.
        run_line(vm, "exit 3", r"init: nsh exited with 3")
        vm.send("\x04")
        assert vm.expect(r"init: nsh exited with 0", TIMEOUT), vm.output[-2000:]
        assert vm.expect(PROMPT, TIMEOUT), vm.output[-2000:]
    finally:
        vm.kill()


def test_shell_pipes():
    vm = start_vm()
    try:
        run_line(vm, "echo hi | cat", r"^hi$")
        run_line(vm, "echo one two | cat | cat -", r"^one two$")
        run_line(vm, "help | cat", r"^Builtins:$")
        run_line(vm, "crash null-read 2>&1 | cat", r"^nsh: crash: faulted")
    finally:
        vm.kill()


def memory(vm: nl.VM):
    """A fresh reading of `mem -s`: (free pages + the slab's pages, {cache:
    objects in use}). Slab pages are left out of the count because how many
    a cache keeps depends on timing (how many objects were alive at once:
    a dying process's beside a new one's); the objects in use are counted
    instead, and every page outside the slab."""
    out = run_line(vm, "mem -s", r"^kmalloc-large +\d+ +\d+ +\d+ +\d+$")
    free = re.search(r"^free +(\d+) pages", out, re.M)
    slab = re.search(r"^slab +(\d+)\.\d KiB", out, re.M)
    inuse = dict(re.findall(r"^(\S+) +\d+ +(\d+) +\d+ +\d+$", out, re.M))
    assert free and slab and "kmalloc-16" in inuse, out
    return int(free.group(1)) + int(slab.group(1)) // 4, inuse


def test_two_hundred_commands_return_memory():
    """200 programs started from nsh (plain, piped, crashing, failing to
    start) leave memory where it was. A first round warms up what keeps
    its working size (nsh's heap and history, slab caches); the same lines
    then run again and must leave the pages outside the slab and the slab's
    objects in use exactly as they were."""
    batch = ["true; echo a | cat; crash null-read; nosuch; false || true",  # 6 programs
             "echo b | cat | cat; ls /etc; true; true; true"]  # 7 programs
    vm = start_vm()
    try:
        def rounds():
            for _ in range(16):  # 16 x 13 = 208 programs
                for line in batch:
                    run_line(vm, line)
        rounds()
        pages_before, objects_before = memory(vm)
        rounds()
        # A process's last pages go back when its teardown finishes, which
        # may be a moment after nsh saw it end: read again while short.
        pages, objects = memory(vm)
        for _ in range(10):
            if pages >= pages_before and objects == objects_before:
                break
            time.sleep(0.5)
            pages, objects = memory(vm)
        assert len(re.findall(r"^nsh: crash: faulted", vm.output, re.M)) == 32, vm.output[-2000:]
        assert len(re.findall(r"^nsh: nosuch: not found", vm.output, re.M)) == 32
        assert pages == pages_before, \
            f"free pages outside the slab {pages_before} before 200 commands, {pages} after"
        changed = {k: (objects_before.get(k), v) for k, v in objects.items()
                   if objects_before.get(k) != v}
        assert not changed, f"slab objects in use (before, after) changed: {changed}"
    finally:
        vm.kill()
