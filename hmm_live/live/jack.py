"""A private JACK server with the dummy backend: real MIDI ports on machines with no sound card."""
from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

_servers = itertools.count()
_shared_name: str | None = None


@contextlib.contextmanager
def jack_server(period: int = 128) -> Iterator[str]:
    """Start `jackd -d dummy` under a unique name (JACK_DEFAULT_SERVER), yield the name, stop it by PID."""
    jackd = shutil.which("jackd")
    if jackd is None:
        raise FileNotFoundError("jackd is not installed (Debian: apt-get install jackd2)")
    name = f"hmm_live_{os.getpid()}_{next(_servers)}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    # its messages go to a file: a pipe nobody reads fills up, and jackd then blocks on a write
    # (every client with it: seen after a few hundred "Process error" lines under load)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([jackd, "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", str(period)],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    try:
        deadline = time.monotonic() + 10
        while not any(name in p.name for p in Path("/dev/shm").glob("jack*")):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"jackd did not start: {log.read().decode(errors='replace')[-500:]}")
            time.sleep(0.05)
        time.sleep(0.2)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        # only what carries this server's name: the numbered segments (jack-UID-N) are shared by
        # every server, and removing those another one made meanwhile broke it (SystemError)
        for leftover in Path("/dev/shm").glob(f"jack*{name}*"):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


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
    """Whether a JACK server name is one of ours (dummy backend: nothing is heard through it)."""
    return bool(server) and server.startswith(f"hmm_live_{os.getpid()}_")
