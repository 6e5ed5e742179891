"""A private JACK server with the dummy backend: real MIDI ports on machines with no sound card."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def jack_server(period: int = 128) -> Iterator[str]:
    """Start `jackd -d dummy` under a unique name (JACK_DEFAULT_SERVER), yield the name, stop it by PID."""
    jackd = shutil.which("jackd")
    if jackd is None:
        raise FileNotFoundError("jackd is not installed (Debian: apt-get install jackd2)")
    name = f"hmm_live_{os.getpid()}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    proc = subprocess.Popen([jackd, "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", str(period)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    try:
        deadline = time.monotonic() + 10
        while not any(name in p.name for p in Path("/dev/shm").glob("jack*")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jackd did not start: {proc.stderr.read().decode()[-500:]}")
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
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        # only what carries this server's name: the numbered segments (jack-UID-N) are shared by
        # every server, and removing those another one made meanwhile broke it (SystemError)
        for leftover in Path("/dev/shm").glob(f"jack*{name}*"):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
