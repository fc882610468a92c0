#!/usr/bin/python3
"""A stand-in for qemu-system-x86_64 used by test_launcher.py (through
NIMBUS_QEMU). It prints its arguments, then acts on its -append string:
  exit=N          print a line and exit with status N
  ready           print the ready line, then hang
  hang            hang
  kvm-error       report a KVM internal error on stderr, then hang
  echo            copy stdin to stdout
Before hanging it starts a child process and prints `child=PID`, so tests
can check that the whole process group was killed."""
import subprocess
import sys
import time

args = sys.argv[1:]
append = args[args.index("-append") + 1] if "-append" in args else ""
print("argv: " + " ".join(args), flush=True)
print("[    0.000100] fake: booting", flush=True)


def hang():
    child = subprocess.Popen(["sleep", "300"])
    print(f"child={child.pid}", flush=True)
    time.sleep(300)


for word in append.split():
    if word.startswith("exit="):
        print("boot: stages (us): entry=0 console=5 ready=9", flush=True)
        sys.exit(int(word[5:]))
    if word == "ready":
        print("boot: stages (us): entry=0 console=5 ready=9", flush=True)
        print("[    0.000200] nimbus: ready", flush=True)
        hang()
    if word == "hang":
        hang()
    if word == "kvm-error":
        print("KVM internal error. Suberror: 1\nemulation failure", file=sys.stderr, flush=True)
        hang()
    if word == "echo":
        for line in sys.stdin:
            print("echo: " + line.rstrip("\n"), flush=True)
        sys.exit(0)
sys.exit(0)
