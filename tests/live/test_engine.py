"""The live engine: bus, clock, capture rules, and the whole loop in-process and over JACK."""
from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from hmm_live import ClipLibrary, ConfigError, MusicVAE, Responder, Subspacer
from hmm_live.live import Bus, Capture, Clock, ClockFollower, ClockSender, Engine, LinkClock, PortError, ports
from hmm_live.live.performer import perform
from hmm_live.music import from_notes

MEL = Path(__file__).resolve().parents[1] / "checkpoints" / "mel_2bar_folk"
BPM = 120.0
STEP = 60.0 / BPM / 4


@pytest.fixture(scope="module")
def models():
    vae = MusicVAE.load(MEL)
    clips = [(f"clip {i}", from_notes([(62 + (s * (i + 1)) % 12, 2 * s, 2 * s + 2) for s in range(16)], 32))
             for i in range(8)]
    library = ClipLibrary(2, clips)
    sub = Subspacer(vae, 2, seed=0)
    sub.fit(library, epochs=30)
    responder = Responder(sub, seed=0)
    responder.fit(library, epochs=10)
    return vae, sub, responder


def melody_bar(offset: int = 0) -> list[tuple[int, int, int]]:
    """(pitch, step, length) of a bar of eighth notes."""
    return [(64 + offset + (s % 3) * 2, 2 * s, 2) for s in range(8)]


def play(send, clock: Clock, bar: int, notes, rng=None, jitter: float = 0.0) -> None:
    """Send (pitch, step, length) notes at their times in `bar` (real time), with uniform random timing jitter."""
    sequence = from_notes([(pitch, step, step + length) for pitch, step, length in notes], 16)
    perform(send, clock, [sequence], first_bar=bar, jitter=jitter, rng=rng, velocity=90)


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    """Poll `condition` until it holds; fail after a generous deadline (never a timing assert)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


def test_bus_fans_out_and_drops_oldest_for_slow_readers():
    bus = Bus()
    fast, slow = bus.subscribe("bars"), bus.subscribe("bars", maxlen=2)
    assert [bus.publish("bars", i) for i in range(3)] == [2, 2, 2]
    assert fast.drain() == [0, 1, 2]
    assert slow.get(timeout=0.1) == 1 and slow.dropped == 1
    slow.close()
    assert bus.publish("bars", 3) == 1 and bus.streams() == ["bars"]
    with pytest.raises(TimeoutError):
        bus.subscribe("other").get(timeout=0.01)


def test_clock_steps_come_from_one_anchor():
    clock = Clock(120)
    clock.start(at=100.0)
    assert clock.time_of(16) == pytest.approx(102.0) and clock.step_at(100.5) == pytest.approx(4.0)
    assert clock.time_of(1_000_000) == pytest.approx(100.0 + 1_000_000 * 0.125)  # no accumulated error
    with pytest.raises(Exception, match="bpm"):
        Clock(1000)


def test_the_clocks_bar_rules():
    clock = Clock(120)  # 2 s a bar, 0.125 s a step
    clock.start(at=100.0)
    assert clock.bar_time(3) == pytest.approx(106.0) and clock.bar_seconds == pytest.approx(2.0)
    assert clock.bar_at(105.0) == pytest.approx(2.5)
    assert clock.next_bar(104.0) == 3 and clock.next_bar(105.99) == 3  # after t, even at a bar line
    # a bar closes half a step before the next bar line: an onset after that rounds into the next bar
    assert clock.close_time(2) == pytest.approx(106.0 - 0.0625)
    assert clock.open_bar(106.0 - 0.07) == 2 and clock.open_bar(106.0 - 0.05) == 3


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
        (60 + s, s, s + 1) for s in range(16)]
    assert [(n.pitch, n.quantized_start_step, n.quantized_end_step) for n in second.sequence.notes] == [
        (90, 0, 16), (91, 4, 6), (92, 12, 16)]
    assert capture.close_bar(2).sequence.notes == []  # the held note is not carried on
    assert capture.ignored == {"sysex": 1, "other channel": 1, "note-off without note-on": 1}
    assert [b.bar for b in bars.drain()] == [0, 1, 2]


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
        assert engine.status()["running"] and engine.status()["last_error"] is None
        started = time.monotonic()
    assert time.monotonic() - started < 1.5 and not engine.running
    assert not [t for t in threading.enumerate() if t.name.startswith("hmm_live")]


def test_a_failing_model_costs_one_bar(models):
    vae, sub, responder = models

    class Flaky:  # a responder that fails on its first live bar only (call 1 is the warm-up)
        calls = 0

        def predict(self, bar):
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise RuntimeError("model blew up")
            return responder.predict(bar)

    with Engine(vae, sub, responder, input=False, output=False, bpm=180) as engine:
        engine.set_models(responder=Flaky())
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


def test_missing_ports_and_apis_are_named(jack):
    with pytest.raises(PortError, match="'no such synth' matches no MIDI output"):
        ports.open_output("no such synth", api="jack")
    with pytest.raises(PortError, match="unknown MIDI API 'bogus'"):
        ports.list_inputs("bogus")


def test_engine_over_jack_answers_on_time_and_leaves_no_stuck_notes(models, jack):
    listener = ports.open_input("listener", virtual=True, api="jack")
    engine = Engine(*models, output="listener", api="jack", bpm=120).start()
    try:
        performer = ports.open_output(ports.IN_PORT, api="jack")
        rng = np.random.default_rng(1)
        for bar in range(4):
            play(performer.send, engine.clock, bar, melody_bar(bar), rng, jitter=0.03)
        time.sleep(engine.clock.time_of(5 * 16) - time.monotonic())
        captured = [b.sequence for b in engine.capture.history]
        assert [[n.quantized_start_step for n in seq.notes] for seq in captured[:4]] == [list(range(0, 16, 2))] * 4
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


def test_headless_jam_demo_writes_the_duet(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "jam.mid"
    done = subprocess.run([sys.executable, "-m", "hmm_live.cli", "jam", "--demo", "--bars", "4", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 of 4 bars answered" in done.stdout
    assert len([line for line in done.stdout.splitlines() if line.startswith("bar ")]) == 4
    from hmm_live.music import read_midi

    duet = read_midi(out)
    assert {n.instrument for n in duet.notes} == {0, 1}  # the performance and the answers


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
    assert kinds[0] == "start" and kinds.count("clock") >= 2 * 96 - 6


def test_an_output_that_vanishes_and_returns_is_reconnected(models, jack):
    synth = ports.open_input("vanishing synth", virtual=True, api="jack")
    engine = Engine(*models, input=False, output="vanishing synth", api="jack", bpm=180).start()
    answers = engine.bus.subscribe("answers")
    try:
        for bar in range(2):
            play(engine.feed, engine.clock, bar, melody_bar())
        assert [m for m in synth.iter_pending() if m.type == "note_on"], "nothing arrived before it vanished"
        synth.close()  # the synth's client goes away, the engine plays on
        for bar in range(2, 4):
            play(engine.feed, engine.clock, bar, melody_bar())
        assert "disappeared" in engine.status()["last_event"]
        synth = ports.open_input("vanishing synth", virtual=True, api="jack")  # and comes back
        time.sleep(1.0)
        assert "reconnected" in engine.status()["last_event"]
        time.sleep(max(0.0, engine.clock.time_of(5 * 16) - time.monotonic()) + 0.05)  # the last answers are out
        answers.drain()
        list(synth.iter_pending())
        start = engine.clock.next_bar()
        for bar in range(start, start + 2):
            play(engine.feed, engine.clock, bar, melody_bar())
        time.sleep(engine.clock.time_of((start + 3) * 16) - time.monotonic() + 0.1)
        received = list(synth.iter_pending())
    finally:
        engine.stop()
        synth.close()
    answered = {a.bar: a.sequence for a in answers.drain()}
    assert {start + 1, start + 2} <= set(answered)  # no bar lost after the port returned
    expected = sum(len(answered[b].notes) for b in (start + 1, start + 2))
    assert sum(m.type == "note_on" and m.velocity > 0 for m in received) == expected
    assert engine.status()["last_error"] is None


def test_an_input_that_vanishes_and_returns_is_reconnected(models, jack):
    """The performer's keyboard (another JACK client's port) goes away for a bar or more and comes back.

    The keyboard returns just after a bar line and the performer plays on from
    the next one without waiting for the engine. The watcher polls twice a
    second, so the reconnection is due half a second after the return: the
    first bar after it (2 s at 120 BPM) is allowed to be lost only if the
    reconnection was reported after that bar had begun; every later bar must be
    captured note for note and answered."""
    keyboard = ports.open_output("vanishing keyboard", virtual=True, api="jack")
    engine = Engine(*models, input="vanishing keyboard", output=False, api="jack", bpm=120).start()
    bars, answers, status = (engine.bus.subscribe(s, maxlen=256) for s in ("capture", "answers", "status"))
    anchor = engine.clock.time_of(0)
    try:
        for bar in range(2):
            play(keyboard.send, engine.clock, bar, melody_bar(bar))
        keyboard.close()  # its client goes away; the engine's clock plays on
        wait_for(lambda: any("disappeared" in e for e in engine.events), "report of the vanished input")
        back = engine.clock.next_bar() + 1  # at least one whole bar without it
        time.sleep(max(0.0, engine.clock.time_of(back * 16) - time.monotonic()) + 0.05)
        keyboard = ports.open_output("vanishing keyboard", virtual=True, api="jack")  # back, early in bar `back`
        played = range(back + 1, back + 4)
        for bar in played:
            play(keyboard.send, engine.clock, bar, melody_bar(bar))
        wait_for(lambda: engine.last_bar is not None and engine.last_bar >= played[-1], "close of the last bar")
        got = {}
        while played[-1] + 1 not in got:
            a = answers.get(timeout=5)
            got[a.bar] = a
    finally:
        engine.stop()
        keyboard.close()
    events = [e for e in engine.events if "vanishing keyboard" in e]
    assert len(events) == 2 and "the MIDI input 'vanishing keyboard' disappeared" in events[0]
    assert "the MIDI input 'vanishing keyboard' is back and reconnected" in events[1]
    reconnected = next(s for s in status.drain() if "reconnected" in (s.event or "")).bar + 1  # in this bar
    assert back <= reconnected <= back + 1, "more than the first bar after the return was lost"
    closed = {b.bar: b.sequence for b in bars.drain()}
    assert sorted(closed) == list(range(max(closed) + 1)) and max(closed) >= played[-1]  # the clock never stopped
    assert engine.clock.time_of(0) == anchor  # nor moved its bar lines
    assert not any(closed[bar].notes for bar in range(2, back))  # nothing arrived while the keyboard was gone
    expected = [bar for bar in (0, 1, *played) if bar > reconnected or bar < back]
    for bar in expected:
        notes = [(n.pitch, n.quantized_start_step) for n in closed[bar].notes]
        assert notes == [(p, s) for p, s, _ in melody_bar(bar)], f"bar {bar} was not captured whole"
    assert {bar + 1 for bar in expected} <= set(got)  # and each was answered on the next bar
    assert engine.status()["last_error"] is None

def test_call_and_response_answers_a_phrase_after_it(models):
    with Engine(*models, input=False, output=False, bpm=200, mode="call_response", every=2) as engine:
        answers = engine.bus.subscribe("answers")
        for bar in range(4):  # bars 0-1 are the call; 2-3 are the machine's turn (played over: ignored)
            play(engine.feed, engine.clock, bar, melody_bar(bar))
        got = [answers.get(timeout=2).bar for _ in range(2)]
        time.sleep(engine.clock.time_of(5 * 16) - time.monotonic())
        assert got == [2, 3] and not answers.drain()
    with pytest.raises(ConfigError, match="mode must be one of"):
        Engine(*models, input=False, output=False, mode="solo")


@pytest.fixture
def link_peer():
    """Another Ableton Link peer, plain aalink at 100 BPM, its asyncio loop in a thread of its own."""
    aalink = pytest.importorskip("aalink", reason="Ableton Link is the optional extra: pip install 'hmm_live[link]'")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test link peer", daemon=True)
    thread.start()

    async def join():
        peer = aalink.Link(100)
        peer.quantum, peer.enabled = 4, True
        return peer

    peer = asyncio.run_coroutine_threadsafe(join(), loop).result(5)
    yield peer
    peer.enabled = False
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def link_phase_error_ms(clock: Clock, peer) -> float:
    """Median distance between the clock's place in its bar and the peer's Link phase (quantum 4)."""
    errors = []
    for _ in range(21):
        before = time.monotonic()
        phase = peer.phase
        after = time.monotonic()
        beats = (clock.step_at((before + after) / 2) / 4 - phase + 2) % 4 - 2
        errors.append(abs(beats) * 60000 / peer.tempo)
        time.sleep(0.01)
    return float(np.median(errors))


def test_the_engine_follows_an_ableton_link_session(models, link_peer):
    """The engine joins the peer's session: one tempo, bar lines on the peer's, tempo changes both ways.

    The phase bound (5 ms, against 500 ms for a random phase at 120 BPM) checks
    that the bars line up; the measured error is in bench/live.py --link."""
    with Engine(*models, input=False, output=False, clock=LinkClock(120)) as engine:
        clock = engine.clock
        wait_for(lambda: clock.peers == 1 and link_peer.num_peers == 1, "Link peers finding each other")
        wait_for(lambda: abs(clock.bpm - link_peer.tempo) < 0.01, "one session tempo")
        assert link_phase_error_ms(clock, link_peer) < 5.0
        clock.set_bpm(150)  # proposed to the session: the other peer takes it up, and so does the engine
        wait_for(lambda: abs(link_peer.tempo - 150) < 0.01 and clock.bpm == pytest.approx(150, abs=0.01),
                 "the proposed tempo in the session")
        link_peer.tempo = 180  # the other peer changes the tempo
        wait_for(lambda: clock.bpm == pytest.approx(180, abs=0.01), "the engine following the peer's tempo")
        assert link_phase_error_ms(clock, link_peer) < 5.0
        answers = engine.bus.subscribe("answers")
        start = clock.next_bar()
        for bar in range(start, start + 2):  # played on the session's bar lines, answered on them
            play(engine.feed, clock, bar, melody_bar(bar))
        assert [answers.get(timeout=5).bar for _ in range(2)] == [start + 1, start + 2]
        closed = {b.bar: b.sequence for b in engine.capture.history}
        assert all([n.quantized_start_step for n in closed[bar].notes] == list(range(0, 16, 2))
                   for bar in (start, start + 1))
    assert not [t for t in threading.enumerate() if t.name.startswith("hmm_live")]


def test_link_without_aalink_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "aalink", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'hmm_live\[link\]'"):
        LinkClock(120)


def test_the_built_in_synth_sounds_every_answer_and_falls_silent_at_stop(models, jack):
    """FluidSynth on JACK (dummy backend), recorded by another client: every answer note is
    heard near its time (a xylophone, for clean onsets), and nothing sounds after stop."""
    from hmm_live.testing.audio_capture import hear_answers

    engine = Engine(*models, input=False, output=False, bpm=150, synth=True, instrument=13).start()
    assert engine.status()["sound"].startswith("FluidSynth via jack"), engine.status()["sound"]

    def perform():
        for bar in range(3):
            play(engine.feed, engine.clock, bar, melody_bar(bar))

    heard = hear_answers(engine, perform)
    errors = heard["errors"]
    assert len(errors) >= 8, "too few answer notes to judge"
    missed = [i for i, e in enumerate(errors) if e is None]
    assert len(missed) <= len(errors) // 10, f"answer notes not heard: {missed} of {len(errors)}"
    assert heard["level_after_stop"] < 1e-4
    assert engine.synth is None and engine.status()["last_error"] is None


def test_without_a_midi_system_the_engine_falls_back_and_says_so(models, monkeypatch, tmp_path):
    """No ALSA sequencer and no JACK server asked for: a private JACK server gives the default
    ports; with jackd missing too, the engine runs without ports. Never a raw error."""
    from hmm_live.live import jack as jack_module

    if Path("/dev/snd/seq").exists():
        pytest.skip("this machine has an ALSA sequencer: nothing to fall back from")
    monkeypatch.delenv("JACK_DEFAULT_SERVER", raising=False)
    monkeypatch.delenv("HMM_LIVE_MIDI_API", raising=False)
    with Engine(*models, bpm=200) as engine:
        status = engine.status()
        assert status["midi"].startswith("JACK (private server") and "ALSA" in status["midi"]
        assert status["ports"] == {"input": ports.IN_PORT, "output": ports.OUT_PORT}
    monkeypatch.setattr(jack_module, "_shared_name", None)
    monkeypatch.setenv("PATH", str(tmp_path))  # as on a machine without jackd
    with Engine(*models, bpm=200) as engine:
        answers = engine.bus.subscribe("answers")
        status = engine.status()
        assert status["midi"].startswith("none: ALSA MIDI is not available") and "jackd" in status["midi"]
        assert status["ports"] == {"input": None, "output": None}
        play(engine.feed, engine.clock, 0, melody_bar())
        assert answers.get(timeout=5).bar == 1  # it still listens and answers
    with pytest.raises(PortError, match="cannot open the MIDI port 'my keyboard'"):
        Engine(*models, input="my keyboard").start()
