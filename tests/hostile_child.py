"""Runs tests/test_hostile.py's cases in a child process under an address-space cap.

Usage: python hostile_child.py CASES.json ADDRESS_SPACE_BYTES. Prints one JSON
line when the imports are done, then one per case: its outcome ("ok",
"error" for an HmmLiveError, "crash" for anything else), message, seconds
and the process's peak RSS so far. Each case is timed after the imports.

Peak RSS is /proc/self/status's VmHWM: getrusage's ru_maxrss (and wait4's)
carry the RSS of the pytest process this child was forked from.
"""

from __future__ import annotations

import functools
import json
import resource
import sys
import time
from pathlib import Path


def _load_model(path: str) -> None:
    from hmm_live import MusicVAE

    MusicVAE.load(path)


def _load_clips(path: str) -> None:
    from hmm_live.music.clips import ClipLibrary

    ClipLibrary.from_midi(path, bars=2)


@functools.cache
def _shipped_musicvae():
    from hmm_live import MusicVAE

    return MusicVAE.load(Path(__file__).resolve().parent.parent / "checkpoints" / "mel_2bar_folk")


def _load_subspacer(path: str) -> None:
    from hmm_live import Subspacer

    Subspacer.load(path, _shipped_musicvae())


RUNNERS = {"checkpoint": _load_model, "midi": _load_clips, "subspacer": _load_subspacer}


def _peak_rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def _report(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main(cases_path: str, address_space: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    with open(cases_path) as f:
        cases = json.load(f)
    from hmm_live import HmmLiveError

    if any(c["kind"] != "midi" for c in cases):
        import hmm_live.models.musicvae.model
    import hmm_live.music.clips  # noqa: F401

    _report(ready=True, peak_rss_kb=_peak_rss_kb())
    for case in cases:
        _report(start=case["id"])
        start = time.perf_counter()
        try:
            RUNNERS[case["kind"]](case["path"])
            outcome, message = "ok", ""
        except HmmLiveError as e:
            outcome, message = "error", f"{type(e).__name__}: {e}"
        except Exception as e:  # what the test is looking for: reported, not raised
            outcome, message = "crash", f"{type(e).__name__}: {e}"
        _report(
            id=case["id"],
            outcome=outcome,
            message=message[:2000],
            seconds=time.perf_counter() - start,
            peak_rss_kb=_peak_rss_kb(),
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
