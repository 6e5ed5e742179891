"""MIDI ports over JACK: names, ports that vanish and return, and no MIDI system at all."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hmm_live.live import Engine, PortError, ports
from tests.support import melody_bar, play, wait_until


def test_missing_ports_and_apis_are_named(jack):
    with pytest.raises(PortError, match="'no such synth' matches no MIDI output"):
        ports.open_output("no such synth", api="jack")
    with pytest.raises(PortError, match="unknown MIDI API 'bogus'"):
        ports.list_inputs("bogus")


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
        wait_until(lambda: any("disappeared" in e for e in engine.events), 10, "report of the vanished input")
        back = engine.clock.next_bar() + 1  # at least one whole bar without it
        time.sleep(max(0.0, engine.clock.time_of(back * 16) - time.monotonic()) + 0.05)
        keyboard = ports.open_output("vanishing keyboard", virtual=True, api="jack")  # back, early in bar `back`
        played = range(back + 1, back + 4)
        for bar in played:
            play(keyboard.send, engine.clock, bar, melody_bar(bar))
        wait_until(lambda: engine.last_bar is not None and engine.last_bar >= played[-1], 10, "close of the last bar")
        got = {}
        while played[-1] + 1 not in got:
            a = answers.get(timeout=5)
            got[a.bar] = a
    finally:
        engine.stop()
        keyboard.close()
    events = [e for e in engine.events if "vanishing keyboard" in e]
    assert len(events) == 2
    assert "the MIDI input 'vanishing keyboard' disappeared" in events[0]
    assert "the MIDI input 'vanishing keyboard' is back and reconnected" in events[1]
    reconnected = next(s for s in status.drain() if "reconnected" in (s.event or "")).bar + 1  # in this bar
    assert back <= reconnected <= back + 1, "more than the first bar after the return was lost"
    closed = {b.bar: b.sequence for b in bars.drain()}
    assert sorted(closed) == list(range(max(closed) + 1))
    assert max(closed) >= played[-1]  # the clock never stopped
    assert engine.clock.time_of(0) == anchor  # nor moved its bar lines
    assert not any(closed[bar].notes for bar in range(2, back))  # nothing arrived while the keyboard was gone
    expected = [bar for bar in (0, 1, *played) if bar > reconnected or bar < back]
    for bar in expected:
        notes = [(n.pitch, n.quantized_start_step) for n in closed[bar].notes]
        assert notes == [(p, s) for p, s, _ in melody_bar(bar)], f"bar {bar} was not captured whole"
    assert {bar + 1 for bar in expected} <= set(got)  # and each was answered on the next bar
    assert engine.status()["last_error"] is None


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
        assert status["midi"].startswith("JACK (private server")
        assert "ALSA" in status["midi"]
        assert status["ports"] == {"input": ports.IN_PORT, "output": ports.OUT_PORT}
    monkeypatch.setattr(jack_module, "_shared_name", None)
    monkeypatch.setenv("PATH", str(tmp_path))  # as on a machine without jackd
    with Engine(*models, bpm=200) as engine:
        answers = engine.bus.subscribe("answers")
        status = engine.status()
        assert status["midi"].startswith("none: ALSA MIDI is not available")
        assert "jackd" in status["midi"]
        assert status["ports"] == {"input": None, "output": None}
        play(engine.feed, engine.clock, 0, melody_bar())
        assert answers.get(timeout=5).bar == 1  # it still listens and answers
    with pytest.raises(PortError, match="cannot open the MIDI port 'my keyboard'"):
        Engine(*models, input="my keyboard").start()
