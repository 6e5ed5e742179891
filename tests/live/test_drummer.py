"""The drummer in the jam: each bar played becomes GrooVAE drums on the next (channel 9, velocities,
micro-timing), beside the answers; a failing drummer costs one bar; humanised drum answers."""

from __future__ import annotations

import contextlib
import threading
import time

import mido
import numpy as np
import pytest

from hmm_live import ConfigError, MusicVAE
from hmm_live.live import Engine, ports
from hmm_live.live import engine as engine_module
from hmm_live.live.answers import looped
from hmm_live.live.drummer import MAX_EARLY, Performer
from hmm_live.music import from_notes
from tests.support import FailsOnFirstLiveBar, groove_model, melody_bar, play, wait_until

DRUMS = 9


@pytest.fixture(scope="module")
def tap2drum():
    return groove_model(1, "tap2drum", seed=3)


class Heard:
    """What the player sends, with the time it was sent: an output added to a running engine."""

    def __init__(self, engine: Engine):
        self.messages: list[tuple[float, mido.Message]] = []
        engine.player.set_output("test", lambda msg: self.messages.append((time.monotonic(), msg)))

    def drums(self) -> list[tuple[float, mido.Message]]:
        return [(t, m) for t, m in self.messages if getattr(m, "channel", None) == DRUMS]


def stuck(messages) -> set[tuple[int, int]]:
    sounding = set()
    for _, m in messages:
        if m.type == "note_on" and m.velocity > 0:
            sounding.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            sounding.discard((m.channel, m.note))
    return sounding


def test_a_tap2drum_bar_is_a_performance_of_one_bar(tap2drum):
    bar = from_notes([(60, s, s + 1) for s in range(0, 16, 3)], 16)
    drums = Performer(tap2drum)(bar, 120.0)
    step = 60.0 / 120 / 4
    assert drums.notes
    assert all(n.is_drum for n in drums.notes)
    assert all(1 <= n.velocity <= 127 for n in drums.notes)
    assert all(-MAX_EARLY * step <= n.start_time < 16 * step for n in drums.notes)
    assert any(abs(n.start_time / step - round(n.start_time / step)) > 1e-3 for n in drums.notes)


def test_looping_a_bar_keeps_the_times_it_was_played_at():
    bar = from_notes([(60, 0, 2), (62, 4, 5)], 16)
    bar.notes[1].start_time = 0.53  # played a little late on step 4 (0.5 s)
    two = looped(bar, 32, is_drum=True)
    assert [n.quantized_start_step for n in two.notes] == [0, 4, 16, 20]
    assert two.notes[3].start_time == pytest.approx(0.53 + 2.0)
    assert all(n.is_drum for n in two.notes)


def test_the_drummer_plays_the_next_bar_beside_the_answers(models, tap2drum):
    with Engine(*models, input=False, output=False, bpm=160, drummer=tap2drum) as engine:
        heard = Heard(engine)
        drums, answers = engine.bus.subscribe("drums"), engine.bus.subscribe("answers")
        for bar in range(3):
            play(engine.feed, engine.clock, bar, melody_bar(bar))
        got = [drums.get(timeout=3) for _ in range(3)]
        assert [a.bar for a in [answers.get(timeout=3) for _ in range(3)]] == [1, 2, 3]
        time.sleep(max(0.0, engine.clock.bar_time(4) + 0.1 - time.monotonic()))
        step = engine.clock.step_seconds
        bar_times = {d.bar: engine.clock.bar_time(d.bar) for d in got}
    assert [d.bar for d in got] == [1, 2, 3]
    assert [d.drumming for d in got] == [0, 1, 2]
    assert all(n.is_drum and 1 <= n.velocity <= 127 for d in got for n in d.sequence.notes)
    onsets = [t for t, m in heard.drums() if m.type == "note_on" and m.velocity > 0]
    assert len(onsets) == sum(len(d.sequence.notes) for d in got)
    assert min(onsets) >= bar_times[1] - MAX_EARLY * step
    assert max(onsets) < bar_times[3] + 16 * step
    played = [(n.start_time / step) for d in got for n in d.sequence.notes]
    assert any(abs(s - round(s)) > 1e-3 for s in played)  # off the grid where the model says so
    assert not stuck(heard.messages)
    assert engine.status()["drummed"] == 3
    assert not [t for t in threading.enumerate() if t.name.startswith("hmm_live")]


def test_drums_keep_their_micro_timing_on_the_clock(models, tap2drum):
    with Engine(*models, input=False, output=False, bpm=160, drummer=tap2drum) as engine:
        heard = Heard(engine)
        drums = engine.bus.subscribe("drums")
        play(engine.feed, engine.clock, 0, melody_bar())
        got = drums.get(timeout=3)
        time.sleep(max(0.0, engine.clock.bar_time(2) + 0.05 - time.monotonic()))
    sent = sorted(t for t, m in heard.drums() if m.type == "note_on" and m.velocity > 0)
    planned = sorted(got.time + max(n.start_time, -MAX_EARLY * got.step_seconds) for n in got.sequence.notes)
    np.testing.assert_allclose(sent, planned, atol=0.02)  # sent on time (loaded machine: 20 ms)


def slow(tap2drum, seconds: float):
    """`tap2drum`, taking `seconds` more for each bar."""

    class Slow:
        def __getattr__(self, name):
            return getattr(tap2drum, name)

        def reconstructor(self, length):
            labels = tap2drum.reconstructor(length)
            return lambda inputs: (time.sleep(seconds), labels(inputs))[1]

    return Slow()


def jam_three_bars(models, drummer) -> Engine:
    with Engine(*models, input=False, output=False, bpm=120, drummer=drummer) as engine:
        for bar in range(3):
            play(engine.feed, engine.clock, bar, melody_bar())
        wait_until(lambda: min(engine.status()["answered"], engine.status()["drummed"]) == 3, 5, "3 bars")
    return engine


def test_the_drums_go_before_the_answer_to_the_same_bar(models, tap2drum, monkeypatch):
    monkeypatch.setattr(engine_module, "DRUMS_FIRST_S", 5.0)
    engine = jam_three_bars(models, slow(tap2drum, 0.3))  # slower than an answer
    assert all(drums < answer for drums, answer in zip(engine.drum_s, engine.compute_s))


def test_a_slow_drummer_holds_no_answer_back_for_long(models, tap2drum):
    engine = jam_three_bars(models, slow(tap2drum, 1.0))
    assert all(answer < 1.0 for answer in engine.compute_s)


def test_a_failing_drummer_costs_one_bar(models, tap2drum):
    class Flaky:  # fails on the bar of one tap (its bar 0), drums the others
        def __getattr__(self, name):
            return getattr(tap2drum, name)

        def reconstructor(self, length):
            labels = tap2drum.reconstructor(length)

            def flaky(inputs):
                if inputs[:, : tap2drum.data_converter.num_drums].sum() == 1:
                    raise RuntimeError("drummer blew up")
                return labels(inputs)

            return flaky

    with Engine(*models, input=False, output=False, bpm=180, drummer=Flaky()) as engine:
        drums = engine.bus.subscribe("drums")
        for bar in range(3):
            play(engine.feed, engine.clock, bar, [(95, 0, 2)] if bar == 0 else melody_bar())
        assert [drums.get(timeout=3).bar for _ in range(2)] == [2, 3]
        assert "drums for bar 0: RuntimeError: drummer blew up" in engine.status()["last_error"]
        assert wait_until(lambda: engine.status()["answered"] == 3, 3, "the answers go on")


def test_a_failing_answer_leaves_the_drums_playing(models, tap2drum, monkeypatch):
    monkeypatch.setattr(engine_module, "DRUMS_FIRST_S", 5.0)  # the drums of bar 0 are scheduled before it fails
    vae, sub, responder = models

    with Engine(
        vae, sub, FailsOnFirstLiveBar(responder), input=False, output=False, bpm=180, drummer=tap2drum
    ) as engine:
        heard = Heard(engine)
        drums = engine.bus.subscribe("drums")
        for bar in range(2):
            play(engine.feed, engine.clock, bar, melody_bar())
        got = [drums.get(timeout=3) for _ in range(2)]
        time.sleep(max(0.0, engine.clock.bar_time(3) + 0.1 - time.monotonic()))
        assert "answer to bar 0: RuntimeError: model blew up" in engine.status()["last_error"]
        stopping = time.monotonic()
    onsets = [m for _, m in heard.drums() if m.type == "note_on" and m.velocity > 0]
    assert len(onsets) == sum(len(d.sequence.notes) for d in got) > 0  # bar 0's drums too
    assert not [m for t, m in heard.drums() if m.type == "control_change" and t < stopping]  # none cut short


def test_models_that_cannot_drum_or_humanize_are_refused(models, tap2drum):
    with pytest.raises(ConfigError, match="the drummer is not a tap2drum model"):
        Engine(*models, input=False, output=False, drummer=models[0])
    with pytest.raises(ConfigError, match="the humanize model is not a humanize model"):
        Engine(*models, input=False, output=False, humanize=tap2drum)
    with pytest.raises(ConfigError, match="humanize works on drum answers"):
        Engine(*models, input=False, output=False, humanize=groove_model(2, "humanize", seed=4))


def test_drum_answers_are_humanized(drum_models):
    humanize = groove_model(2, "humanize", seed=5)
    with Engine(*drum_models, input=False, output=False, bpm=160, humanize=humanize) as engine:
        heard = Heard(engine)
        answers = engine.bus.subscribe("answers")
        for bar in range(2):
            play(engine.feed, engine.clock, bar, [(36, 0, 1), (42, 4, 1), (38, 8, 1), (42, 12, 1)])
        got = [answers.get(timeout=3) for _ in range(2)]
        time.sleep(max(0.0, engine.clock.bar_time(3) + 0.1 - time.monotonic()))
    performed = [a.performance for a in got if a.sequence.notes]
    assert performed
    assert all(p is not None and all(1 <= n.velocity <= 127 for n in p.notes) for p in performed)
    step = got[0].step_seconds
    assert any(abs(n.start_time / step - round(n.start_time / step)) > 1e-3 for p in performed for n in p.notes)
    assert not stuck(heard.messages)


@pytest.fixture(scope="module")
def drum_models():
    """A random-weight drum MusicVAE with a small subspace and responder."""
    from hmm_live import ClipLibrary, Responder, Subspacer
    from tests.support import random_drums, randomize

    vae = randomize(MusicVAE.create("cat-drums_2bar_small", 16, [32], [32], seed=0), seed=6)
    rng = np.random.default_rng(0)
    library = ClipLibrary(2, [(f"clip {i}", random_drums(rng)) for i in range(6)])
    sub = Subspacer(vae, 2, seed=0)
    sub.fit(library, epochs=5)
    responder = Responder(sub, seed=0)
    responder.fit(library, epochs=3)
    return vae, sub, responder


def test_drums_over_jack_on_channel_9_and_no_stuck_notes(models, tap2drum, jack):
    heard: list[tuple[float, mido.Message]] = []
    listener = ports.open_input("drum listener", lambda m, t: heard.append((t, m)), virtual=True, api="jack")
    engine = Engine(*models, output="drum listener", api="jack", bpm=120, drummer=tap2drum).start()
    try:
        with contextlib.closing(ports.open_output(engine.status()["ports"]["input"], api="jack")) as performer:
            # into our input by its full name (another "hmm_live in" may be closing), from a bar that starts
            # after the client is up (a JACK client opens slowly; its first cycle drops MIDI)
            played = engine.clock.next_bar(time.monotonic() + 0.3)
            for bar in range(played, played + 3):
                play(performer.send, engine.clock, bar, melody_bar(bar - played))
            time.sleep(max(0.0, engine.clock.bar_time(played + 4) - time.monotonic()))
        step, first = engine.clock.step_seconds, engine.clock.bar_time(played + 1)
    finally:
        engine.stop()
    wait_until(  # all notes off ends with CC 123 on each channel: once that is in, so is everything before
        lambda: any(m.type == "control_change" and m.control == 123 and m.channel == DRUMS for _, m in heard),
        5,
        "all notes off received",
    )
    listener.close()
    drum_ons = [(t, m) for t, m in heard if m.type == "note_on" and m.velocity > 0 and m.channel == DRUMS]
    assert drum_ons, "no drums came out of the output port"
    assert all(1 <= m.velocity <= 127 for _, m in drum_ons)
    assert min(t for t, _ in drum_ons) >= first - MAX_EARLY * step
    assert not stuck(heard), f"stuck notes after stop: {sorted(stuck(heard))}"
    assert engine.status()["drummed"] >= 3
