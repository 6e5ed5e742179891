"""The capture: jittered MIDI in, quantised bars out."""

from __future__ import annotations

import mido
import numpy as np

from hmm_live.live import Bus, Capture, Clock

BPM = 120.0
STEP = 60.0 / BPM / 4


def test_capture_quantises_jittered_playing_and_follows_its_rules():
    clock, bus = Clock(BPM), Bus()
    clock.start(at=0.0)
    capture = Capture(clock, bus, channel=0)
    bars = bus.subscribe("capture")
    rng = np.random.default_rng(0)
    for step in range(16):  # one note per 16th, each up to 30 ms early or late
        on = clock.time_of(step) + rng.uniform(-0.03, 0.03)
        capture.feed(mido.Message("note_on", note=60 + step, velocity=80), on)
        capture.feed(mido.Message("note_off", note=60 + step), on + STEP * 0.8)
    capture.feed(mido.Message("note_on", note=90, velocity=70), clock.time_of(16) - 0.04)  # just before bar 2
    capture.feed(mido.Message("note_on", note=91, velocity=70), clock.time_of(20))
    capture.feed(mido.Message("note_on", note=91, velocity=0), clock.time_of(22))  # velocity 0 ends it
    capture.feed(mido.Message("note_off", note=99), clock.time_of(23))  # never started
    capture.feed(mido.Message("sysex", data=[1, 2, 3]), clock.time_of(23))
    capture.feed(mido.Message("note_on", channel=5, note=50, velocity=70), clock.time_of(24))
    capture.feed(mido.Message("note_on", note=92, velocity=70), clock.time_of(28))  # held past the bar line
    first, second = capture.close_bar(0), capture.close_bar(1)
    assert [(n.pitch, n.quantized_start_step, n.quantized_end_step) for n in first.sequence.notes] == [
        (60 + s, s, s + 1) for s in range(16)
    ]
    assert [(n.pitch, n.quantized_start_step, n.quantized_end_step) for n in second.sequence.notes] == [
        (90, 0, 16),
        (91, 4, 6),
        (92, 12, 16),
    ]
    assert capture.close_bar(2).sequence.notes == []  # the held note is not carried on
    assert capture.ignored == {"sysex": 1, "other channel": 1, "note-off without note-on": 1}
    assert [b.bar for b in bars.drain()] == [0, 1, 2]
