"""A private JACK server with the dummy backend: real MIDI ports on machines with no sound card."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# JACK keeps at most 8 servers in its shared registry, and frees the slot of a server that
# died without unregistering only when a server of the same name starts: so the names are
# 8 fixed ones, taken in turn (unique names used up the registry for good).
NAMES = tuple(f"hmm_live_{slot}" for slot in range(8))
# jackd runs under a guard that stops it when the guard's stdin closes: when we close it, or
# when this process ends in any way (a kernel killed by its server left orphan servers behind)
GUARD = 'trap "kill $pid" TERM; "$@" & pid=$!; read _; kill $pid; wait $pid'
SHM = Path("/dev/shm")
# a client late by more than this is thrown out of the graph for good (silent from then on):
# jackd's 500 ms default is too short on a loaded machine, with no sound card to keep up with
CLIENT_TIMEOUT_MS = 5000
_started: set[str] = set()  # servers this process runs
_shared_name: str | None = None


@contextlib.contextmanager
def jack_server(period: int = 128) -> Iterator[str]:
    """Start `jackd -d dummy` under a free name (JACK_DEFAULT_SERVER), yield the name, then stop it."""
    jackd = shutil.which("jackd")
    if jackd is None:
        raise FileNotFoundError("jackd is not installed (Debian: apt-get install jackd2)")
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    running = {name for name, _ in _jackd_processes()}
    for name in NAMES:
        if name in running:
            continue  # another process's (a second notebook, `hmm-live jam`): never borrowed, never cleaned up
        _remove_files(name)  # a server of this name that was killed left them: they would read as ready
        # its messages go to a file: a pipe nobody reads fills up, and jackd then blocks on a
        # write (every client with it: seen after a few hundred "Process error" lines under load)
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            [
                "sh",
                "-c",
                GUARD,
                "jack guard",
                jackd,
                "-n",
                name,
                "--no-realtime",
                "-t",
                str(CLIENT_TIMEOUT_MS),
                "-d",
                "dummy",
                "-r",
                "48000",
                "-p",
                str(period),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,  # its own process group: one kill reaches jackd too
        )
        assert proc.stdin is not None  # stdin=PIPE: closing it stops the guard, and jackd with it
        problem = _wait_until_running(name, proc, log)
        if problem is None:
            break
        proc.stdin.close()
        proc.wait()
        log.close()
        if "already active" not in problem:
            raise RuntimeError(f"jackd did not start: {problem}")
    else:
        raise RuntimeError(f"jackd did not start: every private server name ({NAMES[0]}..{NAMES[-1]}) is in use")
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    _started.add(name)
    try:
        yield name
    finally:
        _started.discard(name)
        proc.stdin.close()  # the guard stops jackd
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        _remove_files(name)


def _jackd_processes() -> Iterator[tuple[str, int]]:
    """(server name, parent pid) of every jackd on this machine (read from /proc), and of every
    guard about to start one."""
    for process in Path("/proc").glob("[0-9]*"):
        try:
            argv = (process / "cmdline").read_bytes().split(b"\0")
            parent = int((process / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # it ended meanwhile
            continue
        jackd = next((i for i, arg in enumerate(argv) if Path(os.fsdecode(arg)).name == "jackd"), None)
        if jackd is not None and b"-n" in argv[jackd:-1]:
            yield os.fsdecode(argv[argv.index(b"-n", jackd) + 1]), parent


def _remove_files(name: str) -> None:
    """The shared-memory files of the server `name`: only what carries its name (the numbered
    segments, jack-UID-N, are shared by every server; removing those broke another: SystemError)."""
    for leftover in [*SHM.glob(f"jack_{name}_*"), *SHM.glob(f"jack_sem.*_{name}_*")]:
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


def _wait_until_running(name: str, proc: subprocess.Popen, log) -> str | None:
    """None once the server's system client exists; else what jackd said when it gave up."""
    ready = SHM / f"jack_sem.{os.getuid()}_{name}_system"
    deadline = time.monotonic() + 10
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            return log.read().decode(errors="replace")[-500:] or f"no server after 10 s (exit {proc.poll()})"
        time.sleep(0.05)
    time.sleep(0.2)
    if (name, proc.pid) not in _jackd_processes():  # ours gave up after all: another process took the name
        log.seek(0)
        return log.read().decode(errors="replace")[-500:] or "jackd ended"
    return None


def shared_server() -> str:
    """One private JACK server for this process (started on first call, stopped at exit): the
    engine's fallback where the platform has no MIDI system. Raises FileNotFoundError or
    RuntimeError when jackd is missing or does not start."""
    global _shared_name
    if _shared_name is None:
        stack = contextlib.ExitStack()
        _shared_name = stack.enter_context(jack_server())
        atexit.register(stack.close)
    return _shared_name


def is_private(server: str | None) -> bool:
    """Whether a JACK server is one this process started (dummy backend: nothing is heard through it)."""
    return server in _started
