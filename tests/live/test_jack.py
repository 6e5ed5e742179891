"""Private JACK servers: two processes on one machine each get their own."""

from __future__ import annotations

import subprocess
import sys

from hmm_live.live import ports

SECOND_PROCESS = "from hmm_live.live import jack; print(jack.shared_server())"


def test_a_second_process_starts_its_own_server_and_its_exit_leaves_ours_working(jack):
    """A second notebook (or `hmm-live jam`) beside this one: it once took this process's server
    for its own (a semaphore file read as ready) and removed its files at exit, so ours lost
    every client and a first Start hung for a minute."""
    assert ports.unavailable("jack") is None
    done = subprocess.run([sys.executable, "-c", SECOND_PROCESS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = done.stdout.strip()
    assert theirs.startswith("hmm_live_")
    assert theirs != jack
    assert ports.unavailable("jack") is None  # ours still makes ports
