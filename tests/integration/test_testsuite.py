"""Tests of how tools/testsuite.py judges each stage, on synthetic results."""

import textwrap

import nimbuslib as nl
import testsuite

KTAP_PASS = textwrap.dedent("""\
    [    0.000100] nimbus: booting
    KTAP version 1
    1..1
      KTAP version 1
      # Subtest: pmm
      1..2
      ok 1 a
      ok 2 b
    ok 1 pmm
    # ktest: 2 passed, 0 failed, 0 skipped
""")
KTAP_FAIL = (KTAP_PASS.replace("  ok 2 b", "    # b: pmm.c:9: expected 1 == 2\n  not ok 2 b")
             .replace("ok 1 pmm", "not ok 1 pmm")
             .replace("2 passed, 0 failed", "1 passed, 1 failed"))


def result(output, qemu_status=None, timed_out=False, vm_error=None):
    status = nl.STATUS_TIMEOUT if timed_out else nl.map_status(qemu_status or 0)
    return nl.RunResult(cmd=["qemu"], status=status, qemu_status=qemu_status, output=output,
                        stderr="", elapsed=1.0, timed_out=timed_out, vm_error=vm_error)


def test_guest_pass():
    res = testsuite.evaluate_guest("g", result(KTAP_PASS, 33))
    assert res.ok and (res.passed, res.total_failed, res.skipped) == (2, 0, 0)


def test_guest_failure_consistent():
    res = testsuite.evaluate_guest("g", result(KTAP_FAIL, 35))
    assert (res.passed, res.failed, res.total_failed) == (1, 1, 1)
    assert res.problems == []
    assert res.failures[0].startswith("pmm.b") and "expected 1 == 2" in res.failures[0]


def test_guest_exit_status_disagrees_with_ktap():
    res = testsuite.evaluate_guest("g", result(KTAP_FAIL, 33))
    assert res.total_failed == 2 and "33 (passed)" in res.problems[0]
    res = testsuite.evaluate_guest("g", result(KTAP_PASS, 35))
    assert res.total_failed == 1 and "35 (failed)" in res.problems[0]


def test_guest_timeout_crash_and_odd_status():
    res = testsuite.evaluate_guest("g", result(KTAP_PASS.split("  ok 2")[0], timed_out=True))
    assert not res.ok and "timed out" in res.problems[0]
    crashed = KTAP_PASS.split("  ok 2")[0] + "EXCEPTION: #GP general protection\n"
    res = testsuite.evaluate_guest("g", result(crashed, 37))
    assert "kernel panic" in res.problems[0]
    assert any("EXCEPTION: #GP" in p for p in res.problems)
    assert res.total_failed == 1 and res.passed == 1
    res = testsuite.evaluate_guest("g", result(KTAP_PASS, 1))
    assert "unexpected QEMU exit status 1" in res.problems[0]
    res = testsuite.evaluate_guest("g", result(KTAP_PASS, 0))
    assert "guest reset or powered off" in res.problems[0]
    res = testsuite.evaluate_guest("g", result("", vm_error="KVM internal error"))
    assert "KVM internal error" in res.problems[0]


def test_guest_missing_plan_and_no_ktap():
    res = testsuite.evaluate_guest("g", result(KTAP_PASS.replace("1..1\n", "", 1), 33))
    assert not res.ok and any("missing plan" in p for p in res.problems)
    res = testsuite.evaluate_guest("g", result("[    0.1] nimbus: ready\n", 33))
    assert not res.ok and "no KTAP output" in res.problems[0]


def test_runner_totals_must_match_ktap():
    res = testsuite.evaluate_guest("g", result(KTAP_PASS.replace("# ktest: 2 passed",
                                                                 "# ktest: 3 passed"), 33))
    assert not res.ok and "runner says" in res.problems[0]


def test_host_results():
    assert testsuite.evaluate_host(0, KTAP_PASS, "", 60).ok
    res = testsuite.evaluate_host(1, KTAP_FAIL, "", 60)
    assert res.failed == 1 and res.problems == []
    res = testsuite.evaluate_host(0, KTAP_PASS, "==1==ERROR: AddressSanitizer: heap-use-after-free", 60)
    assert not res.ok and "AddressSanitizer" in res.problems[0]
    res = testsuite.evaluate_host(1, KTAP_PASS.replace("  ok 2 b\n", ""),
                                  "pmm.c:3:5: runtime error: signed integer overflow", 60)
    assert any("runtime error" in p for p in res.problems)
    assert any("planned 2" in p for p in res.problems)
    assert not testsuite.evaluate_host(None, KTAP_PASS, "", 60).ok
    assert not testsuite.evaluate_host(-11, KTAP_PASS, "", 60).ok


def test_junit(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text("""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="t.test_a" name="test_ok" time="0.1"/>
<testcase classname="t.test_a" name="test_ok2" time="0.1"/>
<testcase classname="t.test_a" name="test_bad" time="0.1"><failure message="assert 1 == 2">x</failure></testcase>
<testcase classname="t.test_a" name="test_err" time="0.1"><error message="fixture broke">x</error></testcase>
<testcase classname="t.test_a" name="test_skip" time="0.1"><skipped message="no kvm"/></testcase>
</testsuite></testsuites>""")
    res = testsuite.evaluate_junit(str(xml))
    assert (res.passed, res.failed, res.skipped) == (2, 2, 1)
    assert res.failures[0].startswith("t.test_a::test_bad") and "assert 1 == 2" in res.failures[0]
