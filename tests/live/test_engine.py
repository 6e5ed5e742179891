"""The live engine: the whole loop in-process and over JACK, a failing model, call and response."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hmm_live import ConfigError
from hmm_live.live import Engine, ports
from tests.support import FailsOnFirstLiveBar, melody_bar, play


def test_engine_answers_each_bar_in_process(models):
    vae, sub, responder = models
    with Engine(vae, sub, responder, input=False, output=False, bpm=180) as engine:
        answers, points = engine.bus.subscribe("answers"), engine.bus.subscribe("points")
        for bar in range(3):
            play(engine.feed, engine.clock, bar, melody_bar(bar))
        got = [answers.get(timeout=2) for _ in range(3)]
        assert [a.bar for a in got] == [1, 2, 3]
        assert all(a.sequence.total_quantized_steps == 16 for a in got)
        assert points.get(timeout=1).point.shape == (2,)
        assert engine.status()["running"]
        assert engine.status()["last_error"] is None
        started = time.monotonic()
    assert time.monotonic() - started < 1.5
    assert not engine.running
    assert not [t for t in threading.enumerate() if t.name.startswith("hmm_live")]


def test_a_failing_model_costs_one_bar(models):
    vae, sub, responder = models

    with Engine(vae, sub, responder, input=False, output=False, bpm=180) as engine:
        engine.set_models(responder=FailsOnFirstLiveBar(responder))
        answers = engine.bus.subscribe("answers")
        for bar in range(3):
            play(engine.feed, engine.clock, bar, melody_bar())
        assert [answers.get(timeout=2).bar for _ in range(2)] == [2, 3]
        assert "answer to bar 0: RuntimeError: model blew up" in engine.status()["last_error"]


def test_engine_can_be_made_and_stopped_many_times(models):
    for _ in range(5):
        engine = Engine(*models, input=False, output=False).start()
        engine.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("hmm_live")]


def test_engine_over_jack_answers_on_time_and_leaves_no_stuck_notes(models, jack):
    listener = ports.open_input("listener", virtual=True, api="jack")
    engine = Engine(*models, output="listener", api="jack", bpm=120).start()
    try:
        performer = ports.open_output(ports.IN_PORT, api="jack")
        first = engine.clock.next_bar(time.monotonic() + 0.3)  # a JACK client opens slowly; its first cycle drops MIDI
        rng = np.random.default_rng(1)
        for bar in range(first, first + 4):
            play(performer.send, engine.clock, bar, melody_bar(bar - first), rng, jitter=0.03)
        time.sleep(engine.clock.bar_time(first + 5) - time.monotonic())
        captured = [b.sequence for b in engine.capture.history if first <= b.bar < first + 4]
        assert [[n.quantized_start_step for n in seq.notes] for seq in captured] == [list(range(0, 16, 2))] * 4
    finally:
        engine.stop()
        performer.close()
    received = []
    for msg in listener.iter_pending():
        received.append(msg)
    listener.close()
    ons = [m for m in received if m.type == "note_on" and m.velocity > 0]
    assert ons, "no answer came out of the output port"
    sounding = set()
    for m in received:
        if m.type == "note_on" and m.velocity > 0:
            sounding.add(m.note)
        elif m.type in ("note_on", "note_off"):
            sounding.discard(m.note)
    assert not sounding, f"stuck notes after stop: {sorted(sounding)}"
    assert any(m.type == "control_change" and m.control == 123 for m in received)
    assert engine.status()["answered"] >= 4


def test_call_and_response_answers_a_phrase_after_it(models):
    with Engine(*models, input=False, output=False, bpm=200, mode="call_response", every=2) as engine:
        answers = engine.bus.subscribe("answers")
        for bar in range(4):  # bars 0-1 are the call; 2-3 are the machine's turn (played over: ignored)
            play(engine.feed, engine.clock, bar, melody_bar(bar))
        got = [answers.get(timeout=2).bar for _ in range(2)]
        time.sleep(engine.clock.time_of(5 * 16) - time.monotonic())
        assert got == [2, 3]
        assert not answers.drain()
    with pytest.raises(ConfigError, match="mode must be one of"):
        Engine(*models, input=False, output=False, mode="solo")
