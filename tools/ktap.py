#!/usr/bin/python3
"""A reader for KTAP v1 (Kernel Test Anything Protocol) output.

Parses a stream that may interleave KTAP with other lines (kernel log lines,
register dumps) and builds a tree of tests: nested subtests are indented by
two spaces and open with their own "KTAP version 1" line (or a "# Subtest:"
line), `# ` lines are diagnostics, a result line's `# SKIP`/`# TODO`
directive changes its meaning. Leaves (tests without subtests) are counted
as passed, failed or skipped.

Problems that make a run fail even when every printed result is "ok":
no KTAP at all, a missing plan, fewer (or more) results than planned, a
subtest without its result line (truncated output, crashed kernel), a
"Bail out!", a kernel crash line (`EXCEPTION:` / `PANIC:`), a suite whose
result disagrees with its tests.

Usage as a module:  report = ktap.parse(text_or_lines); report.ok,
report.passed/failed/skipped, report.errors, report.failed_tests(),
report.summary().
Usage as a program: ktap.py [--tree] [--json] FILE|-   (exit 0 only if ok)
"""

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Union

VERSION_RE = re.compile(r"^(?:KTAP version \d+|TAP version 1[34])\s*$")
PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(?:#.*)?$")
RESULT_RE = re.compile(r"^(ok|not ok)\s+(\d+)\b(?:\s+(?:-\s+)?([^#]*?))?\s*(?:#\s*(.*?))?\s*$")
DIAG_RE = re.compile(r"^#(?: (.*)|)$")
SUBTEST_RE = re.compile(r"^# Subtest: (.*?)\s*$")
BAIL_RE = re.compile(r"^Bail out!(.*)$")
# A kernel log line prefix "[    0.001234] "; KTAP printed through the log has it.
LOG_PREFIX_RE = re.compile(r"^\[\s*\d+\.\d+\] ")
CRASH_RE = re.compile(r"^(?:\[\s*\d+\.\d+\]\s*)?(?:EXCEPTION|PANIC):")
DIRECTIVES = ("SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR")
CRASH_CONTEXT = 30  # lines kept after a crash line

PASSED, FAILED, SKIPPED, MISSING = "passed", "failed", "skipped", "missing"


@dataclass
class Test:
    """One test: a leaf case or a (sub)test with children."""
    name: str = ""
    number: Optional[int] = None
    status: str = MISSING        # passed, failed, skipped or missing (no result line)
    directive: str = ""          # SKIP, TODO, ... as written after '#'
    reason: str = ""             # text after the directive
    plan: Optional[int] = None
    depth: int = 0
    line: int = 0                # line number of the header or result
    children: List["Test"] = field(default_factory=list)
    diagnostics: List[str] = field(default_factory=list)
    pending: List[str] = field(default_factory=list, repr=False)
    results: int = 0             # children whose result line was seen

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self):
        if self.is_leaf:
            yield self
        for c in self.children:
            yield from c.leaves()

    def to_dict(self) -> dict:
        d = {"name": self.name, "number": self.number, "status": self.status}
        if self.directive:
            d["directive"] = self.directive
            d["reason"] = self.reason
        if self.plan is not None:
            d["plan"] = self.plan
        if self.diagnostics:
            d["diagnostics"] = self.diagnostics
        if self.children:
            d["children"] = [c.to_dict() for c in self.children]
        return d


@dataclass
class Report:
    """The outcome of reading one KTAP stream."""
    root: Optional[Test]
    errors: List[str]
    crash: List[str]             # the crash line and the lines after it
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def found(self) -> bool:
        return self.root is not None

    @property
    def ok(self) -> bool:
        return self.found and not self.errors and self.failed == 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped

    def failed_tests(self):
        """(dotted path, Test) of every failed leaf."""
        out = []

        def walk(t, path):
            for c in t.children:
                p = path + [c.name or f"#{c.number}"]
                if c.is_leaf and c.status == FAILED:
                    out.append((".".join(p), c))
                walk(c, p)
        if self.root:
            walk(self.root, [])
        return out

    def summary(self, tree: bool = False) -> str:
        """Human-readable account: counts, failed tests with diagnostics, errors."""
        lines = []
        if tree and self.root:
            lines += format_tree(self.root)
        lines.append(f"KTAP: {self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        for path, t in self.failed_tests():
            lines.append(f"FAILED {path}")
            lines += [f"    # {d}" for d in t.diagnostics]
        lines += [f"ERROR: {e}" for e in self.errors]
        if self.crash:
            lines.append("--- crash ---")
            lines += self.crash
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "passed": self.passed, "failed": self.failed,
                "skipped": self.skipped, "errors": self.errors, "crash": self.crash,
                "failed_tests": [p for p, _ in self.failed_tests()],
                "tree": self.root.to_dict() if self.root else None}


def format_tree(root: Test) -> List[str]:
    out = []

    def walk(t, indent):
        for c in t.children:
            mark = {PASSED: "ok", FAILED: "FAIL", SKIPPED: "skip", MISSING: "??"}[c.status]
            extra = f" # {c.directive} {c.reason}".rstrip() if c.directive else ""
            out.append(f"{'  ' * indent}{mark:4} {c.name or '#%s' % c.number}{extra}")
            walk(c, indent + 1)
    walk(root, 0)
    return out


class Parser:
    """Incremental KTAP reader: feed() lines, then finish() for the Report.
    strict: a subtest without a plan is an error (the top level always needs one)."""

    def __init__(self, strict: bool = True):
        self.strict = strict
        self.root: Optional[Test] = None
        self.stack: List[Test] = []
        self.base = 0                # indentation of the top-level version line
        self.strip_prefix = False    # KTAP came through the kernel log, with timestamps
        self.errors: List[str] = []
        self.crash: List[str] = []
        self.crash_left = 0
        self.lineno = 0
        self.bailed = False

    # -- input --------------------------------------------------------------
    def feed(self, line: str) -> None:
        self.lineno += 1
        line = line.rstrip("\r\n").replace("\r", "")
        if self.crash_left:
            self.crash.append(line)
            self.crash_left -= 1
        if CRASH_RE.match(line.lstrip()):
            if not self.crash:
                self.errors.append(f"kernel crash at line {self.lineno}: {line.strip()}")
            self.crash.append(line)
            self.crash_left = CRASH_CONTEXT
            return
        if self.root is None:
            self._look_for_header(line)
            return
        if self.strip_prefix:
            line = LOG_PREFIX_RE.sub("", line, count=1)
        self._ktap_line(line)

    def _look_for_header(self, line: str) -> None:
        m = LOG_PREFIX_RE.match(line)
        body = line[m.end():] if m else line
        stripped = body.lstrip(" ")
        if VERSION_RE.match(stripped):
            self.strip_prefix = m is not None
            self.base = len(body) - len(stripped)
            self.root = Test(name="", depth=0, line=self.lineno)
            self.stack = [self.root]

    def _ktap_line(self, line: str) -> None:
        stripped = line.lstrip(" ")
        rel = len(line) - len(stripped) - self.base
        if rel < 0 or not stripped:
            return
        if m := BAIL_RE.match(stripped):
            self.errors.append(f"line {self.lineno}: Bail out!{m.group(1)}")
            self.bailed = True
            return
        if rel % 2:
            return  # not on the two-space grid: not a KTAP line
        depth = rel // 2
        if VERSION_RE.match(stripped):
            self._version(depth)
        elif m := SUBTEST_RE.match(stripped):
            self._subtest(depth, m.group(1))
        elif m := PLAN_RE.match(stripped):
            self._plan(depth, int(m.group(1)))
        elif m := RESULT_RE.match(stripped):
            self._result(depth, m)
        elif m := DIAG_RE.match(stripped):
            self._diagnostic(depth, m.group(1) or "")
        # anything else: an unknown line (kernel log); ignored

    # -- structure ------------------------------------------------------------
    def _top(self) -> Test:
        return self.stack[-1]

    def _open(self, depth: int) -> Test:
        """Opens a subtest context at depth, below the current top."""
        parent = self._top()
        t = Test(depth=depth, line=self.lineno)
        parent.children.append(t)
        self.stack.append(t)
        return t

    def _close_deeper(self, depth: int) -> None:
        """Abandons contexts deeper than depth: their result line never came."""
        while self._top().depth > depth:
            t = self.stack.pop()
            self.errors.append(f"{self._name(t)} has no result line: "
                               "output truncated or the kernel crashed")
            self._check_plan(t)

    def _version(self, depth: int) -> None:
        if depth == 0:
            self._close_deeper(0)
            self.errors.append(f"line {self.lineno}: second top-level KTAP version line")
            return
        self._close_deeper(depth - 1)
        self._open(depth)

    def _subtest(self, depth: int, name: str) -> None:
        top = self._top()
        if depth == top.depth and top is not self.root and not top.name and not top.results:
            top.name = name
        elif depth > top.depth:
            self._open(depth).name = name
        else:
            self._diagnostic(depth, f"Subtest: {name}")

    def _plan(self, depth: int, n: int) -> None:
        if depth > self._top().depth:
            self._open(depth)
        else:
            self._close_deeper(depth)
        top = self._top()
        if top.plan is not None:
            self.errors.append(f"line {self.lineno}: second plan in {self._name(top)}")
        top.plan = n

    def _result(self, depth: int, m: re.Match) -> None:
        verdict, number, desc, directive = m.group(1), int(m.group(2)), m.group(3) or "", m.group(4)
        self._close_deeper(depth + 1)
        top = self._top()
        if top.depth == depth + 1 and top is not self.root:
            t = self.stack.pop()      # the subtest this line concludes
            self._check_plan(t)
            t.diagnostics += t.pending
            t.pending = []
        else:
            if depth > top.depth:
                self._open(depth)
            t = Test(depth=depth)
            self._top().children.append(t)
        parent = self._top()
        t.diagnostics += parent.pending
        parent.pending = []
        t.number, t.line = number, self.lineno
        t.name = t.name or desc.strip()
        parent.results += 1
        if number != parent.results:
            self.errors.append(f"line {self.lineno}: test '{t.name}' is numbered {number}, "
                               f"expected {parent.results}")
        t.status = PASSED if verdict == "ok" else FAILED
        if directive:
            word, _, rest = directive.partition(" ")
            if word.upper() in DIRECTIVES:
                t.directive, t.reason = word.upper(), rest.strip()
                if t.directive == "SKIP":
                    t.status = SKIPPED
                elif t.directive in ("TODO", "XFAIL") and verdict == "not ok":
                    t.status = SKIPPED

    def _diagnostic(self, depth: int, text: str) -> None:
        for t in reversed(self.stack):
            if t.depth <= depth:
                t.pending.append(text)
                return
        self.root.pending.append(text)

    # -- checks ---------------------------------------------------------------
    def _name(self, t: Test) -> str:
        if t is self.root:
            return "the top level"
        return f"subtest '{t.name}' (line {t.line})" if t.name else f"subtest at line {t.line}"

    def _check_plan(self, t: Test) -> None:
        if t.plan is None:
            if t is self.root or (self.strict and (t.children or t.status == MISSING)):
                self.errors.append(f"missing plan (1..N) in {self._name(t)}")
        elif t.results < t.plan:
            self.errors.append(f"{self._name(t)} planned {t.plan} tests but only {t.results} "
                               "reported: output truncated or the kernel crashed")
        elif t.results > t.plan:
            self.errors.append(f"{self._name(t)} planned {t.plan} tests but {t.results} reported")

    def _check_verdicts(self, t: Test) -> None:
        for c in t.children:
            self._check_verdicts(c)
            if c.is_leaf or c.status in (MISSING, SKIPPED):
                continue
            bad = any(x.status in (FAILED, MISSING) for x in c.leaves())
            if c.status == PASSED and bad:
                self.errors.append(f"suite '{c.name}' reported ok but has failed tests")
            if c.status == FAILED and not bad:
                self.errors.append(f"suite '{c.name}' reported not ok but none of its tests failed")

    def finish(self) -> Report:
        if self.root is None:
            errors = ["no KTAP output (no 'KTAP version 1' line)"] + self.errors
            return Report(root=None, errors=errors, crash=self.crash)
        self._close_deeper(0)
        self._check_plan(self.root)
        self.root.diagnostics += self.root.pending
        self.root.pending = []
        self._check_verdicts(self.root)
        rep = Report(root=self.root, errors=self.errors, crash=self.crash)
        for leaf in self.root.leaves():
            if leaf is self.root:
                continue
            if leaf.status == PASSED:
                rep.passed += 1
            elif leaf.status == FAILED:
                rep.failed += 1
            elif leaf.status == SKIPPED:
                rep.skipped += 1
        return rep


def parse(source: Union[str, Iterable[str]], strict: bool = True) -> Report:
    """Reads KTAP from a string or an iterable of lines (e.g. an open file)."""
    p = Parser(strict=strict)
    lines = source.splitlines() if isinstance(source, str) else source
    for line in lines:
        p.feed(line)
    return p.finish()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Summarize KTAP v1 output; exit 0 only if it passed.")
    ap.add_argument("file", help="KTAP output (kernel serial log, host test output); - for stdin")
    ap.add_argument("--tree", action="store_true", help="print every test")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--lenient", action="store_true", help="allow subtests without a plan")
    args = ap.parse_args(argv)
    if args.file == "-":
        rep = parse(sys.stdin, strict=not args.lenient)
    else:
        with open(args.file, encoding="utf-8", errors="replace") as f:
            rep = parse(f, strict=not args.lenient)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2))
    else:
        print(rep.summary(tree=args.tree))
        print("PASS" if rep.ok else "FAIL")
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
