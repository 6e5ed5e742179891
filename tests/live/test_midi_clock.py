"""MIDI clock: following an external master, and sending clock as the master."""

from __future__ import annotations

import time

import mido
import numpy as np
import pytest

from hmm_live.live import ClockFollower, ClockSender, Engine, ports


def test_following_an_external_midi_clock(models):
    """A master at 150 BPM (ticks with 1 ms jitter) drives tempo and bar lines; Stop pauses."""
    with Engine(*models, input=False, output=False, clock=ClockFollower(100)) as engine:
        answers = engine.bus.subscribe("answers")
        rng = np.random.default_rng(2)
        tick = 60.0 / 150 / 24
        t0 = time.monotonic() + 0.05
        engine.feed(mido.Message("start"), t0 - 0.01)
        notes = {(b * 16 + 2 * s): 64 + s for b in range(2) for s in range(8)}
        for i in range(2 * 96 + 12):  # two bars and a bit
            t = t0 + i * tick
            time.sleep(max(0.0, t - time.monotonic()))
            engine.feed(mido.Message("clock"), t + rng.uniform(-0.001, 0.001))
            if i % 6 == 0 and i // 6 in notes:
                engine.feed(mido.Message("note_on", note=notes[i // 6], velocity=90), t)
        assert engine.clock.bpm == pytest.approx(150, abs=1.0)
        got = [answers.get(timeout=2).bar for _ in range(2)]
        bars = [b.sequence for b in engine.capture.history][:2]
        assert got == [1, 2]
        assert [[n.quantized_start_step for n in bar.notes] for bar in bars] == [list(range(0, 16, 2))] * 2
        engine.feed(mido.Message("stop"))
        assert not engine.clock.running


def test_sending_midi_clock_as_master(models, jack):
    listener = ports.open_input("clock listener", virtual=True, api="jack")
    engine = Engine(*models, input=False, output="clock listener", api="jack", clock=ClockSender(180)).start()
    try:
        time.sleep(engine.clock.time_of(2 * 16) - time.monotonic())
    finally:
        engine.stop()
    kinds = [m.type for m in listener.iter_pending()]
    listener.close()
    assert kinds[0] == "start"
    assert kinds.count("clock") >= 2 * 96 - 6
