"""Ableton Link: the engine in a Link session beside another peer."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import numpy as np
import pytest

from hmm_live import ConfigError
from hmm_live.live import Clock, Engine, LinkClock
from tests.support import melody_bar, play, wait_until


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
        wait_until(lambda: clock.peers == 1 and link_peer.num_peers == 1, 10, "Link peers finding each other")
        wait_until(lambda: abs(clock.bpm - link_peer.tempo) < 0.01, 10, "one session tempo")
        assert link_phase_error_ms(clock, link_peer) < 5.0
        clock.set_bpm(150)  # proposed to the session: the other peer takes it up, and so does the engine
        wait_until(
            lambda: abs(link_peer.tempo - 150) < 0.01 and clock.bpm == pytest.approx(150, abs=0.01),
            10,
            "the proposed tempo in the session",
        )
        link_peer.tempo = 180  # the other peer changes the tempo
        wait_until(lambda: clock.bpm == pytest.approx(180, abs=0.01), 10, "the engine following the peer's tempo")
        assert link_phase_error_ms(clock, link_peer) < 5.0
        answers = engine.bus.subscribe("answers")
        start = clock.next_bar()
        for bar in range(start, start + 2):  # played on the session's bar lines, answered on them
            play(engine.feed, clock, bar, melody_bar(bar))
        assert [answers.get(timeout=5).bar for _ in range(2)] == [start + 1, start + 2]
        closed = {b.bar: b.sequence for b in engine.capture.history}
        assert all(
            [n.quantized_start_step for n in closed[bar].notes] == list(range(0, 16, 2)) for bar in (start, start + 1)
        )
    assert not [t for t in threading.enumerate() if t.name.startswith("hmm_live")]


def test_link_without_aalink_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "aalink", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'hmm_live\[link\]'"):
        LinkClock(120)
