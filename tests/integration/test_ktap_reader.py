"""Unit tests of tools/ktap.py against synthetic KTAP output."""

import io
import os
import subprocess
import sys
import textwrap

import ktap

KTAP_TOOL = os.path.join(os.path.dirname(ktap.__file__), "ktap.py")


def parse(text, **kw):
    return ktap.parse(textwrap.dedent(text).strip("\n"), **kw)


# What the kernel's runner prints (kernel/lib/ktest.c): suites as subtests
# with a "# Subtest:" line, failure diagnostics indented under the case.
GOOD = """
    KTAP version 1
    1..2
      KTAP version 1
      # Subtest: pmm
      1..2
      ok 1 pmm_alloc_free
      ok 2 pmm_double_free
    ok 1 pmm
      KTAP version 1
      # Subtest: slab
      1..1
      ok 1 slab_basic
    ok 2 slab
    # ktest: 3 passed, 0 failed, 0 skipped
"""


def test_good_run():
    r = parse(GOOD)
    assert r.ok and r.found
    assert (r.passed, r.failed, r.skipped) == (3, 0, 0)
    assert r.errors == [] and r.crash == []
    assert [s.name for s in r.root.children] == ["pmm", "slab"]
    assert [c.name for c in r.root.children[0].children] == ["pmm_alloc_free", "pmm_double_free"]
    assert r.root.diagnostics == ["ktest: 3 passed, 0 failed, 0 skipped"]


def test_failure_with_diagnostics():
    r = parse("""
        KTAP version 1
        1..1
          KTAP version 1
          # Subtest: pmm
          1..2
          ok 1 pmm_alloc_free
            # pmm_double_free: pmm.c:42: expected ERR_INVALID_ARGS, got 0
          not ok 2 pmm_double_free
        not ok 1 pmm
    """)
    assert not r.ok
    assert (r.passed, r.failed, r.skipped) == (1, 1, 0)
    assert r.errors == []
    [(path, t)] = r.failed_tests()
    assert path == "pmm.pmm_double_free"
    assert t.diagnostics == ["pmm_double_free: pmm.c:42: expected ERR_INVALID_ARGS, got 0"]
    assert "FAILED pmm.pmm_double_free" in r.summary()
    assert "expected ERR_INVALID_ARGS" in r.summary()


def test_reference_example_with_skip():
    r = parse("""
        KTAP version 1
        1..2
          KTAP version 1
          1..2
          ok 1 pmm_alloc_free
          not ok 2 pmm_double_free
          # pmm_double_free: expected ERR_INVALID_ARGS, got 0
        not ok 1 pmm
        ok 2 slab # SKIP needs SMP
    """)
    assert (r.passed, r.failed, r.skipped) == (1, 1, 1)
    slab = r.root.children[1]
    assert slab.status == ktap.SKIPPED and slab.directive == "SKIP" and slab.reason == "needs SMP"
    assert not r.ok and r.errors == []


def test_skip_only_is_ok():
    r = parse("""
        KTAP version 1
        1..2
        ok 1 a # SKIP no hardware
        ok 2 b # skip lower case
    """)
    assert r.ok and (r.passed, r.failed, r.skipped) == (0, 0, 2)


def test_todo_failure_is_not_a_failure():
    r = parse("""
        KTAP version 1
        1..2
        not ok 1 known_bug # TODO fix the allocator
        ok 2 b
    """)
    assert r.ok and (r.passed, r.failed, r.skipped) == (1, 0, 1)


def test_interleaved_log_lines():
    r = parse("""
        [    0.000100] nimbus: booting
        [    0.000200] mm: 250 MiB free, high 0 MiB
        KTAP version 1
        [    0.001000] smp: cpu 1 online
        1..1
          KTAP version 1
        [    0.002000] sched: tick
          # Subtest: sched
          1..2
          ok 1 a
        [    0.003000] something happened
        random noise line
          ok 2 b
        ok 1 sched
        [    0.004000] nimbus: ktest done
    """)
    assert r.ok, r.summary()
    assert (r.passed, r.failed, r.skipped) == (2, 0, 0)


def test_ktap_through_kernel_log_with_timestamps():
    r = parse("""
        [    0.000100] hello
        [    0.001000] KTAP version 1
        [    0.001001] 1..1
        [    0.001002]   KTAP version 1
        [    0.001003]   1..1
        [    0.001004]   ok 1 a
        [    0.001005] ok 1 s
    """)
    assert r.ok and r.passed == 1, r.summary()


def test_truncated_output():
    r = parse("""
        KTAP version 1
        1..3
          KTAP version 1
          # Subtest: pmm
          1..2
          ok 1 pmm_alloc_free
        ok 1 pmm
          KTAP version 1
          # Subtest: slab
          1..4
          ok 1 slab_basic
    """)
    assert not r.ok
    text = "\n".join(r.errors)
    assert "subtest 'slab'" in text and "no result line" in text
    assert "planned 4 tests but only 1" in text
    assert "the top level planned 3 tests but only 1" in text
    # A plan mismatch in pmm (planned 2, got 1) is reported as well.
    assert "subtest 'pmm' (line 3) planned 2 tests but only 1" in text


def test_fewer_results_than_planned_at_top_level():
    r = parse("""
        KTAP version 1
        1..3
        ok 1 a
        ok 2 b
    """)
    assert not r.ok and r.failed == 0 and r.passed == 2
    assert any("planned 3 tests but only 2" in e for e in r.errors)


def test_more_results_than_planned():
    r = parse("""
        KTAP version 1
        1..1
        ok 1 a
        ok 2 b
    """)
    assert not r.ok
    assert any("planned 1 tests but 2 reported" in e for e in r.errors)


def test_missing_plan():
    r = parse("""
        KTAP version 1
        ok 1 a
        ok 2 b
    """)
    assert not r.ok and r.passed == 2
    assert any("missing plan" in e and "top level" in e for e in r.errors)


def test_missing_subtest_plan_strict_and_lenient():
    text = """
        KTAP version 1
        1..1
          KTAP version 1
          ok 1 a
        ok 1 s
    """
    strict = parse(text)
    assert not strict.ok and any("missing plan" in e for e in strict.errors)
    assert parse(text, strict=False).ok


def test_crash_mid_suite():
    r = parse("""
        KTAP version 1
        1..2
          KTAP version 1
          # Subtest: vm
          1..3
          ok 1 vm_map
        EXCEPTION: #PF page fault
          rip=ffffffff80101234 rsp=ffffffff80203f00 err=0x2 cr2=0
          [<ffffffff80101234>] vm_unmap+0x12/0x40
          [<ffffffff80100100>] ktest_run+0x80/0x100
    """)
    assert not r.ok
    assert r.errors[0].startswith("kernel crash at line 7: EXCEPTION: #PF page fault")
    assert r.crash[0] == "EXCEPTION: #PF page fault"
    assert any("vm_unmap+0x12" in ln for ln in r.crash)
    assert any("no result line" in e for e in r.errors)
    assert "--- crash ---" in r.summary()


def test_crash_after_complete_ktap_still_fails():
    r = parse(GOOD + "\nPANIC: something broke during shutdown\n")
    assert (r.passed, r.failed) == (3, 0)
    assert not r.ok and r.crash and "PANIC: something broke" in r.errors[0]


def test_no_ktap_at_all():
    r = parse("""
        [    0.000100] nimbus: booting
        [    0.000200] nimbus: ready
    """)
    assert not r.found and not r.ok
    assert r.errors == ["no KTAP output (no 'KTAP version 1' line)"]
    assert r.total == 0


def test_empty_input():
    r = ktap.parse("")
    assert not r.found and not r.ok


def test_nested_three_levels():
    r = parse("""
        KTAP version 1
        1..2
          KTAP version 1
          # Subtest: outer
          1..2
            KTAP version 1
            # Subtest: inner
            1..2
            ok 1 deep_a
              # deep_b: expected 1, got 2
            not ok 2 deep_b
          not ok 1 inner
          ok 2 shallow
        not ok 1 outer
        ok 2 flat
    """)
    assert r.errors == [], r.errors
    assert (r.passed, r.failed, r.skipped) == (3, 1, 0)
    assert [p for p, _ in r.failed_tests()] == ["outer.inner.deep_b"]
    inner = r.root.children[0].children[0]
    assert inner.name == "inner" and inner.plan == 2 and inner.status == ktap.FAILED


def test_old_style_subtest_without_version_line():
    r = parse("""
        TAP version 14
        1..1
            # Subtest: legacy
            1..1
            ok 1 case
        ok 1 legacy
    """.replace("            ", "  "))
    assert r.ok and r.passed == 1, r.summary()


def test_wrong_numbering():
    r = parse("""
        KTAP version 1
        1..2
        ok 1 a
        ok 3 b
    """)
    assert not r.ok and any("numbered 3, expected 2" in e for e in r.errors)


def test_suite_verdict_disagrees_with_cases():
    r = parse("""
        KTAP version 1
        1..2
          KTAP version 1
          1..1
          not ok 1 a
        ok 1 lying_suite
          KTAP version 1
          1..1
          ok 1 b
        not ok 2 failing_suite
    """)
    assert r.failed == 1
    assert any("'lying_suite' reported ok" in e for e in r.errors)
    assert any("'failing_suite' reported not ok" in e for e in r.errors)


def test_bail_out():
    r = parse("""
        KTAP version 1
        1..2
        ok 1 a
        Bail out! out of memory
    """)
    assert not r.ok and any("Bail out! out of memory" in e for e in r.errors)


def test_carriage_returns_and_stream_input():
    text = textwrap.dedent(GOOD).strip().replace("\n", "\r\n") + "\r\n"
    r = ktap.parse(io.StringIO(text))
    assert r.ok and r.passed == 3


def test_empty_plan():
    r = parse("""
        KTAP version 1
        1..0
    """)
    assert r.ok and r.total == 0


def test_json_tree():
    d = parse(GOOD).to_dict()
    assert d["ok"] and d["passed"] == 3
    assert d["tree"]["children"][0]["children"][1]["name"] == "pmm_double_free"


def run_cli(text, *args):
    return subprocess.run([sys.executable, KTAP_TOOL, *args, "-"], input=textwrap.dedent(text),
                          capture_output=True, text=True, timeout=30)


def test_cli_pass_and_fail():
    ok = run_cli(GOOD, "--tree")
    assert ok.returncode == 0 and "KTAP: 3 passed, 0 failed, 0 skipped" in ok.stdout
    assert "pmm_double_free" in ok.stdout
    bad = run_cli(GOOD.replace("ok 2 pmm_double_free", "not ok 2 pmm_double_free")
                      .replace("ok 1 pmm\n", "not ok 1 pmm\n"))
    assert bad.returncode == 1 and "FAILED pmm.pmm_double_free" in bad.stdout
    assert run_cli("nothing here\n").returncode == 1
