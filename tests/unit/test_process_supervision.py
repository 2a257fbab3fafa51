"""`./dev up` supervises its processes as Kubernetes would (scripts/processes.py): a process that exits
is announced loudly and started again after a back-off that doubles up to a cap, and is back at the
first step once the process had stayed up a while; stop() ends everything and restarts nothing.

Tiny real processes; the tests wait on the group's own notifications (ProcessGroup.wait_for, woken on
every exit and start) or on a FIFO the process blocks on, never on a sleep."""
from __future__ import annotations

import os
import socket
import sys
import time

import pytest

from common.config import PROJECT_ROOT
from scripts.processes import ProcessGroup, _ephemeral_range, free_port, wait_ready

CRASH = [sys.executable, "-c", "import sys; print('boom: the database is gone', flush=True); sys.exit(3)"]
WAIT = 20  # seconds: a bound on every wait, never reached when all is well


def blocked_on(fifo) -> list[str]:
    """A process that stays up until the test writes to `fifo`, then exits with code 5."""
    return [sys.executable, "-c", "import sys; open(sys.argv[1]).read(); sys.exit(5)", str(fifo)]


def release(fifo) -> None:
    """Let the process blocked on `fifo` exit (opening for writing waits until it has opened it)."""
    with open(fifo, "w") as f:
        f.write("go")


@pytest.fixture
def groups():
    made = []

    def make(**kwargs) -> ProcessGroup:
        group = ProcessGroup(dict(os.environ), str(PROJECT_ROOT), echo=False, **kwargs)
        made.append(group)
        return group

    yield make
    for group in made:
        group.stop(timeout=5)


def test_a_process_that_exits_is_restarted_with_a_growing_back_off(groups):
    group = groups(restart=True, backoff=0.02, max_backoff=0.08, reset_after=3600)
    first = group.start("crasher", CRASH)

    assert group.wait_for(lambda: group.restarts["crasher"] >= 4, WAIT), group.crashes
    crashes = group.crashes[:4]
    assert [c.backoff for c in crashes] == [0.02, 0.04, 0.08, 0.08]  # doubling, capped
    assert [c.restart for c in crashes] == [1, 2, 3, 4]
    assert {c.code for c in crashes} == {3}
    assert group.procs["crasher"] is not first  # the same command, started again


def test_the_exit_is_announced_loudly_with_the_last_lines(groups, capsys):
    group = groups(restart=True, backoff=60)
    group.start("payments", CRASH)

    assert group.wait_for(lambda: group.crashes, WAIT)
    banner = capsys.readouterr().err
    assert "!" * 40 in banner
    assert "PROCESS DIED: payments exited with code 3" in banner
    assert "restart #1 in 60s" in banner
    assert "payments | boom: the database is gone" in banner  # its last output, where it can be seen


def test_a_process_killed_by_a_signal_is_named_so(groups, capsys, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    group = groups(restart=True, backoff=60)
    group.start("relay", blocked_on(fifo)).kill()

    assert group.wait_for(lambda: group.crashes, WAIT)
    assert "relay was killed by SIGKILL" in capsys.readouterr().err


def test_stop_during_the_back_off_stops_everything_and_restarts_nothing(groups, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    group = groups(restart=True, backoff=60)
    crasher = group.start("crasher", CRASH)
    healthy = group.start("healthy", blocked_on(fifo))
    assert group.wait_for(lambda: group.crashes, WAIT)
    assert group.exited() == {"crasher": 3}  # down while it waits out its back-off

    began = time.monotonic()
    group.stop(timeout=5)

    assert time.monotonic() - began < 10  # the 60 s back-off wait was cut short
    assert healthy.poll() is not None  # SIGTERM reached the one that was up
    assert group.procs == {"crasher": crasher, "healthy": healthy}  # nothing started again
    assert group.restarts == {"crasher": 0, "healthy": 0}
    assert not any(t.is_alive() for t in group._supervisors)  # and nothing left that could
    with pytest.raises(RuntimeError):
        group.start("late", CRASH)


def test_a_process_that_stayed_up_starts_again_from_the_first_back_off(groups, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    now = [0.0]
    group = groups(restart=True, backoff=0.02, max_backoff=1, reset_after=60, clock=lambda: now[0])
    group.start("flaky", blocked_on(fifo))
    for restarts in (1, 2, 3):  # three quick crashes: 0.02, 0.04, 0.08
        release(fifo)
        assert group.wait_for(lambda r=restarts: group.restarts["flaky"] == r, WAIT)

    now[0] += 61  # the fourth start stays up longer than reset_after
    release(fifo)
    assert group.wait_for(lambda: group.restarts["flaky"] == 4, WAIT)
    release(fifo)  # and crashes at once again
    assert group.wait_for(lambda: group.restarts["flaky"] == 5, WAIT)

    assert [c.backoff for c in group.crashes] == [0.02, 0.04, 0.08, 0.02, 0.04]
    assert [c.code for c in group.crashes] == [5] * 5
    assert group.crashes[3].uptime == 61


def test_without_restart_an_exit_is_only_reported(groups):
    """start_platform's default: the end-to-end tests and benchmarks see a process that stopped."""
    group = groups()
    proc = group.start("crasher", CRASH)

    assert proc.wait(WAIT) == 3
    assert group.exited() == {"crasher": 3}
    assert group.restarts == {"crasher": 0} and group.crashes == [] and group._supervisors == []


def test_a_process_that_stops_while_starting_fails_the_wait_with_its_last_lines(groups):
    """A CI log then says why (an exit code alone said nothing)."""
    group = groups()
    group.start("crasher", CRASH).wait(WAIT)

    with pytest.raises(RuntimeError) as failed:
        wait_ready("http://127.0.0.1:9/readyz", group, timeout=WAIT)

    assert "{'crasher': 3}" in str(failed.value)
    assert "crasher | boom: the database is gone" in str(failed.value)


def test_free_ports_are_outside_the_kernels_ephemeral_range_and_never_handed_out_twice():
    """A port from the ephemeral range can go to another process's outgoing connection between the
    choice and the listen: the listener then exits with EADDRINUSE (a platform that failed to start)."""
    low, _ = _ephemeral_range()
    ports = [free_port() for _ in range(50)]

    assert all(port < low for port in ports)
    assert len(set(ports)) == len(ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))  # free to listen on


def test_side_by_side_test_processes_take_ports_from_their_own_slice(monkeypatch):
    from scripts import processes

    low, _ = processes._ephemeral_range()
    first = 20000 if low > 21000 else 1024
    size = (low - first) // 3
    monkeypatch.setenv("FREE_PORT_SLICE", "1/3")
    ports = {processes.free_port() for _ in range(20)}
    assert all(first + size <= p < first + 2 * size for p in ports), sorted(ports)
