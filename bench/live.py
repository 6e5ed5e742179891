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
    python bench/live.py --link [--seconds S] [--out FILE]

--quick: 60 s at 180 BPM (CI); default: 600 s at 180 BPM. JACK period 128 frames at 48 kHz.
--link (needs the link extra): the engine's LinkClock against an aalink peer in
another process, which changes the tempo every 5 s while the clock proposes
one every 5 s too; the peer reports its phase every 10 ms (time.monotonic is
one clock for both processes). It measures the phase error (the clock's place
in the bar against the peer's Link phase, quantum 4), and how long a tempo
change takes to reach the other side, both ways. Default 60 s.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import arguments, emit, log, stats_ms, target

from hmm_live import ClipLibrary, MusicVAE
from hmm_live.live import Engine, ports
from hmm_live.live.clock import first_step
from hmm_live.live.jack import jack_server
from hmm_live.live.messages import Answer, CapturedBar
from hmm_live.live.performer import perform_in_thread
from hmm_live.models.subspace_training import train_subspace
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS

PERIOD = 128
JITTER = 0.03
LINK_PEER = """
import asyncio, sys, time
from aalink import Link

async def main():
    link = Link(100.0)
    link.quantum, link.enabled = 4, True
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        if line.strip():
            link.tempo = float(line)
        before = time.monotonic()
        phase = link.phase
        after = time.monotonic()
        print((before + after) / 2, after - before, phase, link.tempo, link.num_peers, flush=True)

asyncio.run(main())
"""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def performance(bars: int, rng: np.random.Generator) -> list[NoteSequence]:
    """A 16th note on ~70% of the 16ths of each bar, random pitches."""
    return [
        from_notes(
            [(int(rng.integers(60, 80)), step, step + 1) for step in range(STEPS_PER_BAR) if rng.random() <= 0.7],
            STEPS_PER_BAR,
        )
        for _ in range(bars)
    ]


def link_report(seconds: float) -> dict:
    """How closely a LinkClock follows a peer in another process (see the module docstring)."""
    from hmm_live.live.link import LinkClock

    peer = subprocess.Popen([sys.executable, "-c", LINK_PEER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(tempo: float | None = None) -> tuple[float, float, float, float, int]:
        """(time, read time, phase, tempo, peers) from the peer, after setting its tempo if given."""
        peer.stdin.write(f"{tempo or ''}\n")
        peer.stdin.flush()
        t, read, phase, bpm, peers = peer.stdout.readline().split()
        return float(t), float(read), float(phase), float(bpm), int(peers)

    clock = LinkClock(120.0)
    clock.start()
    try:
        started = time.monotonic()
        while ask()[4] < 1 or clock.peers < 1:
            time.sleep(0.01)
        discovered = time.monotonic() - started
        errors, to_clock, to_peer = [], [], []
        tempos = [90.0, 150.0, 120.0, 175.0]
        for i in range(int(seconds / 5)):
            tempo = tempos[i % len(tempos)]
            if i % 2:  # the clock proposes
                proposed = time.monotonic()
                clock.set_bpm(tempo)
                while abs(ask()[3] - tempo) > 1e-3:
                    time.sleep(0.001)
                to_peer.append(time.monotonic() - proposed)
            else:  # the peer changes it
                changed = ask(tempo)[0]
                while abs(clock.bpm - tempo) > 1e-3:
                    time.sleep(0.001)
                to_clock.append(time.monotonic() - changed)
            until = time.monotonic() + 5.0
            while time.monotonic() < until:
                t, read, phase, bpm, _ = ask()
                if read < 0.0005 and abs(clock.bpm - bpm) < 1e-3:  # not preempted, no tempo change in flight
                    beats = (clock.step_at(t) / 4 - phase + 2) % 4 - 2
                    errors.append(abs(beats) * 60.0 / bpm)
                time.sleep(0.01)
    finally:
        clock.stop()
        peer.stdin.close()
        peer.wait(5)
    report = {
        "seconds": seconds,
        "peer": "aalink 0.2.3 in another process, same machine",
        "discovery_s": discovered,
        "phase_error": stats_ms(errors),
        "phase_error_max_ms": max(errors) * 1e3,
        "tempo_change_peer_to_clock": stats_ms(to_clock),
        "tempo_change_clock_to_peer": stats_ms(to_peer),
    }
    report["targets"] = [target("link_phase_error_p99_ms", report["phase_error"]["p99_ms"], "<=", 1.0)]
    return report


def main() -> None:
    parser = arguments(__doc__, "60 s (CI)")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--bpm", type=float, default=180.0)
    parser.add_argument("--link", action="store_true", help="how the clock follows an Ableton Link peer")
    args = parser.parse_args()
    if args.link:
        emit(link_report(args.seconds or 60.0), args.out)
        return
    seconds = args.seconds or (60.0 if args.quick else 600.0)
    bars = int(seconds / (240.0 / args.bpm))
    musicvae = MusicVAE.load(DEFAULT_MODEL)
    subspacer, responder = train_subspace(musicvae, ClipLibrary.from_midi(DEMO_CLIPS, bars=2))
    received: list[tuple[float, mido.Message]] = []
    rng = np.random.default_rng(0)
    played = performance(bars, rng)
    intended = [
        (first_step(b) + n.quantized_start_step, n.pitch)  # (absolute step, pitch) of each note
        for b, bar in enumerate(played)
        for n in bar.notes
    ]
    with jack_server(PERIOD) as server:
        log(f"JACK server {server}, period {PERIOD}; {bars} bars at {args.bpm} BPM")
        listener = ports.open_input(
            "bench listener", virtual=True, api="jack", callback=lambda m, t: received.append((t, m))
        )
        engine = Engine(musicvae, subspacer, responder, output="bench listener", api="jack", bpm=args.bpm)
        answers, closed = (
            engine.bus.subscribe("answers", maxlen=bars + 8),
            engine.bus.subscribe("capture", maxlen=bars + 8),
        )
        engine.start()
        sender = ports.open_output(ports.IN_PORT, api="jack")
        play = perform_in_thread(
            sender.send, engine.clock, played, "bench performer", jitter=JITTER, rng=rng, velocity=90, release=0.01
        )
        rss = []
        while play.is_alive():
            play.join(5.0)
            rss.append((time.monotonic(), rss_mib()))
        time.sleep(max(0.0, engine.clock.bar_time(bars + 1) - time.monotonic()) + 0.1)
        ready: dict[int, Answer] = {a.bar: a for a in answers.drain()}
        captured: dict[int, CapturedBar] = {b.bar: b for b in closed.drain()}
        late_ms = list(engine.player.late_ms)
        engine.stop()
        time.sleep(0.05)
        listener.close()
        sender.close()

    # capture: every intended (step, pitch) must be in the bar it belongs to, at that step
    got = {(first_step(b) + n.quantized_start_step, n.pitch) for b, c in captured.items() for n in c.sequence.notes}
    on_step = sum((step, pitch) in got for step, pitch in intended) / max(len(intended), 1)
    # output: each answer note-on as received, against its time on the clock
    expected = []
    for bar, a in ready.items():
        for n in a.sequence.notes:
            expected.append((engine.clock.time_of(first_step(bar) + n.quantized_start_step), n.pitch))
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
        "bpm": args.bpm,
        "seconds": seconds,
        "bars": bars,
        "jack_period_frames": PERIOD,
        "quick": args.quick,
        "capture": {"notes": len(intended), "on_intended_step": on_step, "jitter_ms": JITTER * 1e3},
        "compute": {"answer_ms": stats_ms(list(engine.compute_s))},
        "output": {
            "send_late": stats_ms(np.array(late_ms) / 1e3),
            "received_late": stats_ms(arrival),
            "matched_note_ons": len(arrival),
            "scheduled_note_ons": len(expected),
        },
        "soak": {
            "bars_played": len(played_bars),
            "answers": len(ready),
            "missed_bars": len(missed),
            "stuck_notes": sorted(sounding),
            "rss_mib_start": after_first_minute[0],
            "rss_mib_end": after_first_minute[-1],
            "rss_growth": after_first_minute[-1] / after_first_minute[0] - 1.0,
        },
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
