"""``pytest --cpu-durations=N``: the N tests that cost the most CPU time, children included.

pytest's ``--durations`` gives wall time, which misleads on a loaded machine: with two test
processes on two cores, a test's wall time grows with whatever the other process runs, and a
test that waits for its child processes shows none of their CPU. This report adds up, for each
test from the start of its setup (where a session fixture it is the first to use is made) to
the end of its teardown, the CPU time of its test process and of the child processes it started
and waited for (``RUSAGE_CHILDREN``). The sum over all tests is what two cores must get through:
the suite cannot take less wall time than about half of it. A child that is still running
when its test ends (or not yet reaped: ``multiprocessing``'s are reaped here) counts in the
test during which it is reaped.

Works with and without pytest-xdist: each test process puts its figures into the teardown
report, which reaches the process that prints the summary. Linux and macOS (``resource``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator

import pytest

#: The key of the figures in a test report's ``user_properties``.
PROPERTY = "cpu_seconds"


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its waited-for children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--cpu-durations``."""
    parser.addoption("--cpu-durations", type=int, default=0, metavar="N",
                     help="show the N tests that cost the most CPU time, their child "
                          "processes included (0: off)")


_START = pytest.StashKey[tuple[float, float, float]]()


def _enabled(config: pytest.Config) -> bool:
    """Whether this run asked for the report."""
    return config.getoption("--cpu-durations", 0) > 0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Note the CPU times as the test's setup starts."""
    if _enabled(item.config):
        item.stash[_START] = (*_cpu(), time.perf_counter())
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """After the teardown, before its report is made: put the test's figures into it."""
    try:
        return (yield)
    finally:
        start = item.stash.get(_START, None)
        if start is not None:
            import multiprocessing

            multiprocessing.active_children()  # reaps the test's ended children: they count
            own, kids = _cpu()
            item.user_properties.append((PROPERTY, {
                "own": own - start[0], "children": kids - start[1],
                "wall": time.perf_counter() - start[2]}))


def pytest_configure(config: pytest.Config) -> None:
    """With ``--cpu-durations``, register the collector of this run's figures."""
    if not _enabled(config):
        return
    if sys.platform == "win32":
        raise pytest.UsageError("--cpu-durations needs the resource module (Linux, macOS)")
    config.pluginmanager.register(_Collector(config.getoption("--cpu-durations")))


class _Collector:
    """Collects each test's figures from its teardown report (made in this process or sent by
    a pytest-xdist worker) and prints the summary. One per run: a pytester run inside this
    one has its own."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen: list[tuple[str, dict[str, float]]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the figures a teardown report carries."""
        if report.when == "teardown":
            self.seen += [(report.nodeid, value) for name, value in report.user_properties
                          if name == PROPERTY]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter,
                                config: pytest.Config) -> None:
        """The N costliest tests, and the sum over all of them (not on an xdist worker,
        whose output nobody reads: its figures reach the controller)."""
        if hasattr(config, "workerinput") or not self.seen:
            return
        rows = sorted(self.seen, key=lambda r: -(r[1]["own"] + r[1]["children"]))
        total = sum(v["own"] + v["children"] for _, v in rows)
        kids = sum(v["children"] for _, v in rows)
        write = terminalreporter.write_line
        terminalreporter.section(f"costliest {min(self.n, len(rows))} tests in CPU time")
        write(f"{total:.1f} CPU-s over {len(rows)} tests ({kids:.1f} in child processes)")
        write("   cpu-s  own-s  child-s   wall-s  test")
        for nodeid, v in rows[:self.n]:
            write(f"{v['own'] + v['children']:8.1f} {v['own']:6.1f} {v['children']:8.1f} "
                  f"{v['wall']:8.1f}  {nodeid}")
