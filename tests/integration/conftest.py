"""Shared fixtures for the integration tests: boot Nimbus under QEMU.

Two ways to boot:

* boot_kernel(**options) -> RunResult   a direct call, e.g.
      r = boot_kernel(machine="q35", smp=4, append="ktest panic=exit", timeout=120)
      r.status, r.output           (launcher status 0/1/2/124, serial text)
  until="ready" stops QEMU as soon as `nimbus: ready` appears.

* @pytest.mark.vm(**options) on a test plus the `vm` fixture: every marked
  boot of the session is started right after collection, in parallel on a
  small thread pool (NIMBUS_TEST_JOBS, default the number of CPUs), and the
  fixture hands the test its RunResult. Tests with equal options share a boot.

* the `boots` fixture: boots(**options) -> RunResult through the same pool,
  for a test that needs several boots or computes their options.

Options are those of nimbuslib.build_command() (machine, memory, smp, append,
accel, icount, extra, kernel, initrd) plus timeout and until. Boots with
accel="kvm" are skipped unless /dev/kvm is usable (or NIMBUS_SKIP_KVM=1).
"""

import concurrent.futures
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import nimbuslib as nl  # noqa: E402

KERNEL = os.path.join(ROOT, nl.DEFAULT_KERNEL)
DEFAULT_TIMEOUT = 60
KVM_TIMEOUT = 240  # nested software KVM emulates ring 0 at ~0.5 us/instruction


def kvm_available() -> bool:
    """KVM tests run only where /dev/kvm works and NIMBUS_SKIP_KVM is not set."""
    return os.environ.get("NIMBUS_SKIP_KVM", "") in ("", "0") and nl.kvm_usable()


def _normalize(options: dict) -> dict:
    opts = dict(options)
    opts.setdefault("timeout", KVM_TIMEOUT if opts.get("accel") == "kvm" else DEFAULT_TIMEOUT)
    opts.setdefault("accel", "tcg")
    return opts


def boot_kernel(**options) -> nl.RunResult:
    """Boots the kernel with build_command() options; timeout (seconds) and
    until ("ready" or a regex) control when QEMU is stopped."""
    opts = _normalize(options)
    timeout = opts.pop("timeout")
    until = opts.pop("until", None)
    if until == "ready":
        until = nl.READY_RE
    return nl.boot(timeout, until=until, **opts)


def _key(options: dict):
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in _normalize(options).items()))


class VMPool:
    """Runs the session's marked boots concurrently, each at most once."""

    def __init__(self, jobs: int):
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
        self.futures = {}

    def submit(self, options: dict):
        key = _key(options)
        if key not in self.futures:
            self.futures[key] = self.executor.submit(boot_kernel, **options)
        return self.futures[key]

    def shutdown(self):
        for f in self.futures.values():
            f.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
        nl.kill_all()


_pool = None


def _vm_options(item):
    marker = item.get_closest_marker("vm")
    return None if marker is None else dict(marker.kwargs)


def pytest_configure(config):
    config.addinivalue_line("markers", "vm(**options): boot the kernel with these options; "
                                       "the `vm` fixture returns the RunResult")


def pytest_collection_finish(session):
    """Starts every boot the selected tests need: slow KVM ones first."""
    global _pool
    wanted = [o for o in map(_vm_options, session.items) if o is not None]
    if not wanted or not os.path.exists(KERNEL):
        return
    jobs = int(os.environ.get("NIMBUS_TEST_JOBS", "0")) or os.cpu_count() or 2
    _pool = VMPool(jobs)
    wanted.sort(key=lambda o: o.get("accel") != "kvm")
    for opts in wanted:
        if opts.get("accel") == "kvm" and not kvm_available():
            continue
        _pool.submit(opts)


def pytest_sessionfinish(session, exitstatus):
    if _pool is not None:
        _pool.shutdown()


@pytest.fixture
def vm(request) -> nl.RunResult:
    """The RunResult of the boot described by the test's vm marker."""
    options = _vm_options(request.node)
    if options is None:
        pytest.fail("the vm fixture needs a @pytest.mark.vm(...) marker")
    if options.get("accel") == "kvm" and not kvm_available():
        pytest.skip("/dev/kvm is not usable here (or NIMBUS_SKIP_KVM is set)")
    if not os.path.exists(KERNEL):
        pytest.fail(f"{KERNEL} is missing: run `make all` first")
    future = _pool.submit(options) if _pool else None
    return future.result() if future else boot_kernel(**options)


@pytest.fixture
def boots():
    """boots(**options) -> RunResult, shared with marked boots of equal options."""
    def get(**options):
        if options.get("accel") == "kvm" and not kvm_available():
            pytest.skip("/dev/kvm is not usable here (or NIMBUS_SKIP_KVM is set)")
        if not os.path.exists(KERNEL):
            pytest.fail(f"{KERNEL} is missing: run `make all` first")
        return _pool.submit(options).result() if _pool else boot_kernel(**options)
    return get


@pytest.fixture
def need_kvm():
    """Skips the test unless /dev/kvm is usable (and NIMBUS_SKIP_KVM unset)."""
    if not kvm_available():
        pytest.skip("/dev/kvm is not usable here (or NIMBUS_SKIP_KVM is set)")


@pytest.fixture(scope="session")
def repo_root() -> str:
    return ROOT
