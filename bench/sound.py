"""Are the answers heard on time? The built-in synth and the browser, side by side.

- synth: the engine's built-in FluidSynth on a private JACK server (dummy backend, 128
  frames at 48 kHz), recorded by another JACK client; each answer note's onset in the audio
  against its scheduled time. Target: p99 <= 5 ms beyond one period; silence after stop.
- browser: the same session in a real JupyterLab in Chromium, the answers played by the
  page (Web Audio, FluidSynth's samples) and recorded there by an AudioWorklet; onsets
  against the bar grid. Target: p99 <= 15 ms. The kernel starts with no JACK server and no
  MIDI API chosen, as on a fresh machine.

Both play the demo performance at 150 BPM with the answers on a xylophone (clean onsets).

    python bench/sound.py [--quick] [--bars N] [--out FILE]

--quick: 8 bars each (CI); default 32.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import arguments, emit, log, target

from hmm_live.live.jack import jack_server

BPM = 150.0


def onset_report(errors: list[float | None], scheduled: int) -> dict:
    heard = np.array([abs(e) for e in errors if e is not None]) * 1e3
    return {
        "scheduled_notes": scheduled,
        "heard": len(heard),
        "heard_share": len(heard) / max(1, scheduled),
        "onset_error_ms": {
            "p50": float(np.percentile(heard, 50)),
            "p99": float(np.percentile(heard, 99)),
            "max": float(heard.max()),
            "mean_signed": float(np.mean([e for e in errors if e is not None]) * 1e3),
        }
        if len(heard)
        else None,
    }


def synth_run(bars: int) -> dict:
    from hmm_live.live import demo
    from hmm_live.live.engine import Engine
    from hmm_live.live.performer import perform
    from hmm_live.models import MusicVAE
    from hmm_live.models.subspace_training import train_subspace
    from hmm_live.music.clips import ClipLibrary
    from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS
    from hmm_live.testing.audio_capture import hear_answers

    musicvae = MusicVAE.load(DEFAULT_MODEL)
    clips = ClipLibrary.from_midi(DEMO_CLIPS, bars=2)
    subspacer, responder = train_subspace(musicvae, clips)
    with jack_server(128):
        engine = Engine(
            musicvae, subspacer, responder, input=False, output=False, bpm=BPM, synth=True, instrument=13
        ).start()
        sound = engine.status()["sound"]
        heard = hear_answers(
            engine, lambda: perform(engine.feed, engine.clock, demo.performance(clips, bars), jitter=demo.JITTER)
        )
    report = onset_report(heard["errors"], len(heard["errors"]))
    return {
        **report,
        "sound": sound,
        "period_ms": heard["period_s"] * 1e3,
        "level_after_stop": heard["level_after_stop"],
        "compute_ms_p99": float(np.percentile(np.array(engine.compute_s) * 1e3, 99)) if engine.compute_s else None,
    }


def browser_run(bars: int) -> dict:
    from hmm_live.testing.browser_sound import answers_heard, open_with_sound, write_notebook
    from hmm_live.testing.lab import chromium, jupyter_lab

    for name in ("JACK_DEFAULT_SERVER", "HMM_LIVE_MIDI_API"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="hmm_live_bench_sound_") as root:
        write_notebook(Path(root), BPM)
        with jupyter_lab(Path(root)) as lab, chromium() as browser:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            open_with_sound(lab, page)
            heard = answers_heard(page, bars)
    # a note that reached the page after its time, or never, counts as not heard on time; onset
    # errors are on the page's clock, which is sync_error_ms off the kernel's
    return {
        **onset_report(heard["errors"], len(heard["expected"]) + len(heard["late"]) + len(heard["unplayed"])),
        "late_notes": len(heard["late"]),
        "unplayed_notes": len(heard["unplayed"]),
        "sync_error_ms": heard["sync_error"] * 1e3,
        "sync_round_trip_ms": heard["sync_round_trip"] * 1e3,
        "midi": heard["status"]["midi"],
        "browser_status": heard["browser_status"],
    }


def main() -> None:
    parser = arguments(__doc__, "8 bars each (CI)")
    parser.add_argument("--bars", type=int)
    args = parser.parse_args()
    bars = args.bars or (8 if args.quick else 32)
    log(f"synth over JACK, {bars} bars at {BPM:g} BPM")
    synth = synth_run(bars)
    log(f"browser, {bars} bars at {BPM:g} BPM")
    browser = browser_run(bars)
    p99 = lambda r: r["onset_error_ms"]["p99"] if r["onset_error_ms"] else None  # noqa: E731
    beyond = None if p99(synth) is None else p99(synth) - synth["period_ms"]
    report = {
        "bpm": BPM,
        "bars": bars,
        "synth": synth,
        "browser": browser,
        "targets": [
            target("synth_onset_p99_beyond_one_period_ms", beyond, "<=", 5.0),
            target("synth_heard_share", synth["heard_share"], ">=", 0.95),
            target("synth_level_after_stop", synth["level_after_stop"], "<=", 1e-4),
            target("browser_onset_p99_ms", p99(browser), "<=", 15.0),
            target("browser_heard_share", browser["heard_share"], ">=", 0.95),
            target("browser_clock_sync_abs_ms", abs(browser["sync_error_ms"]), "<=", 15.0),
        ],
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
