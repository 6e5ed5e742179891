"""TensorFlow's start-up notices off stage: the stderr filter around its first import."""

from __future__ import annotations

import subprocess
import sys

import pytest

NOTICES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796403351.075665   17871 port.cc:153] oneDNN custom operations are on.\n"
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
    "W0000 00:00:1796403351.075665   17871 a.cc:1] a warning\n"
    "E0000 00:00:1796403351.075665   17871 b.cc:2] an error\n"
    "Traceback: not absl's, always kept\n"
)


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        (0, NOTICES.splitlines(keepends=True)),
        (1, NOTICES.splitlines(keepends=True)[3:]),
        (2, NOTICES.splitlines(keepends=True)[4:]),
        (3, NOTICES.splitlines(keepends=True)[5:]),
    ],
)
def test_filtered_stderr_keeps_what_the_level_shows(level, shown):
    child = (
        "import os, sys\n"
        "from hmm_live.quiet import filtered_stderr\n"
        f"with filtered_stderr({level}):\n"
        f"    os.write(2, {NOTICES.encode()!r})\n"
        "    print('python too', file=sys.stderr)\n"
        "print('after', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "".join(shown) + "python too\nafter\n"


def test_importing_tensorflow_after_hmm_live_says_nothing():
    """On a CPU with oneDNN (AVX-512) TensorFlow 2.21 prints notices at import, and an "error" when sampling."""
    child = "from hmm_live import MusicVAE; MusicVAE.create('cat-mel_2bar_small', 8, [8], [8]).sample(1, seed=1)"
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_making_a_drummer_says_nothing():
    """Its TFLite conversion and interpreter print notices of their own (and absl's trackable_obj warning)."""
    child = (
        "from hmm_live import MusicVAE; from hmm_live.live.drummer import Performer;"
        "Performer(MusicVAE.create('groovae_2bar_tap_fixed_velocity', 8, [8], [8, 8]))"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
