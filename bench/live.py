"""Live engine benchmark over real MIDI ports (a private JACK server, dummy backend).

One run plays a dense random performance (a note on most 16ths, +-30 ms
timing jitter) at a tempo into the engine's input port from another JACK
client, and listens to the engine's output port from a third. It measures:
 - capture: the share of notes that land on their intended step;
 - the answer path: bar closed -> answer scheduled (compute), p50/p99;
 - output timing: the player's send calls against their scheduled times, and
   the answers' note-ons as received by the listening client, p50/p99;
 - soak: missed bars (closed bars with no answer), stuck notes after stop,
   RSS growth after the first minute.

    python bench/live.py [--quick] [--seconds S] [--bpm B] [--out FILE]

--quick: 60 s at 180 BPM (CI); default: 600 s at 180 BPM. JACK period 128 frames at 48 kHz.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import emit, log, stats_ms, target  # noqa: E402

from hmm_live import ClipLibrary, MusicVAE  # noqa: E402
from hmm_live.live import Engine, ports  # noqa: E402
from hmm_live.session.training import train_subspace  # noqa: E402
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS  # noqa: E402
from hmm_live.live.jack import jack_server  # noqa: E402
from hmm_live.music.sequences import STEPS_PER_BAR  # noqa: E402

PERIOD = 128
JITTER = 0.03


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def performer(send, engine: Engine, bars: int, rng, intended: list, stop: threading.Event) -> None:
    """A note on ~70% of the 16ths of each bar, random pitches, +-JITTER s."""
    for bar in range(bars):
        for step in range(STEPS_PER_BAR):
            if stop.is_set():
                return
            if rng.random() > 0.7:
                continue
            absolute = bar * STEPS_PER_BAR + step
            pitch = int(rng.integers(60, 80))
            on = engine.clock.time_of(absolute) + rng.uniform(-JITTER, JITTER)
            time.sleep(max(0.0, on - time.monotonic()))
            send(mido.Message("note_on", note=pitch, velocity=90))
            intended.append((absolute, pitch))
            off = engine.clock.time_of(absolute + 1) - 0.01
            time.sleep(max(0.0, off - time.monotonic()))
            send(mido.Message("note_off", note=pitch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 s (CI)")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--bpm", type=float, default=180.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    seconds = args.seconds or (60.0 if args.quick else 600.0)
    bars = int(seconds / (240.0 / args.bpm))
    musicvae = MusicVAE.load(DEFAULT_MODEL)
    subspacer, responder = train_subspace(musicvae, ClipLibrary.from_midi(DEMO_CLIPS, bars=2))
    received: list[tuple[float, mido.Message]] = []
    intended: list[tuple[int, int]] = []
    with jack_server(PERIOD) as server:
        log(f"JACK server {server}, period {PERIOD}; {bars} bars at {args.bpm} BPM")
        listener = ports.open_input("bench listener", virtual=True, api="jack",
                                    callback=lambda m: received.append((time.monotonic(), m)))
        engine = Engine(musicvae, subspacer, responder, output="bench listener", api="jack", bpm=args.bpm)
        answers, closed = engine.bus.subscribe("answers", maxlen=bars + 8), engine.bus.subscribe("capture", maxlen=bars + 8)
        engine.start()
        sender = ports.open_output(ports.IN_PORT, api="jack")
        stop = threading.Event()
        play = threading.Thread(target=performer, args=(sender.send, engine, bars, np.random.default_rng(0),
                                                        intended, stop), name="bench performer")
        play.start()
        rss = []
        while play.is_alive():
            play.join(5.0)
            rss.append((time.monotonic(), rss_mib()))
        time.sleep(max(0.0, engine.clock.time_of((bars + 1) * STEPS_PER_BAR) - time.monotonic()) + 0.1)
        ready = {a["bar"]: a for a in answers.drain()}
        captured = {b["bar"]: b for b in closed.drain()}
        late_ms = list(engine.player.late_ms)
        engine.stop()
        time.sleep(0.05)
        listener.close()
        sender.close()

    # capture: every intended (step, pitch) must be in the bar it belongs to, at that step
    got = {(b * STEPS_PER_BAR + n.quantized_start_step, n.pitch) for b, c in captured.items() for n in c["sequence"].notes}
    on_step = sum((step, pitch) in got for step, pitch in intended) / max(len(intended), 1)
    # output: each answer note-on as received, against its time on the clock
    expected = []
    for bar, a in ready.items():
        for n in a["sequence"].notes:
            expected.append((engine.clock.time_of(bar * STEPS_PER_BAR + n.quantized_start_step), n.pitch))
    expected.sort()
    ons = [(t, m.note) for t, m in received if m.type == "note_on" and m.velocity > 0]
    arrival = []
    for (t_exp, pitch), (t_got, note) in zip(expected, ons):
        if pitch == note:
            arrival.append(t_got - t_exp)
    sounding = set()
    for _, m in received:
        if m.type == "note_on" and m.velocity > 0:
            sounding.add(m.note)
        elif m.type in ("note_on", "note_off"):
            sounding.discard(m.note)
    played_bars = {step // STEPS_PER_BAR for step, _ in intended}
    missed = sorted(b for b in played_bars if b + 1 not in ready)
    after_first_minute = [r for t, r in rss if t - rss[0][0] >= 60] or [r for _, r in rss]
    report = {
        "bpm": args.bpm, "seconds": seconds, "bars": bars, "jack_period_frames": PERIOD, "quick": args.quick,
        "capture": {"notes": len(intended), "on_intended_step": on_step, "jitter_ms": JITTER * 1e3},
        "compute": {"answer_ms": stats_ms(list(engine.compute_s))},
        "output": {"send_late": stats_ms(np.array(late_ms) / 1e3), "received_late": stats_ms(arrival),
                   "matched_note_ons": len(arrival), "scheduled_note_ons": len(expected)},
        "soak": {"bars_played": len(played_bars), "answers": len(ready), "missed_bars": len(missed),
                 "stuck_notes": sorted(sounding), "rss_mib_start": after_first_minute[0],
                 "rss_mib_end": after_first_minute[-1],
                 "rss_growth": after_first_minute[-1] / after_first_minute[0] - 1.0},
        "status": engine.status(),
    }
    report["targets"] = [
        target("answer_compute_p99_ms", report["compute"]["answer_ms"]["p99_ms"], "<=", 20.0),
        target("send_late_p99_ms", report["output"]["send_late"]["p99_ms"], "<=", 1.0),
        target("received_late_p99_ms", report["output"]["received_late"]["p99_ms"], "<=", 3.5),
        target("capture_on_step", on_step, ">=", 1.0),
        target("missed_bars", len(missed), "<=", 0),
        target("stuck_notes", len(sounding), "<=", 0),
        target("rss_growth", report["soak"]["rss_growth"], "<=", 0.05),
    ]
    emit(report, args.out)


if __name__ == "__main__":
    main()
