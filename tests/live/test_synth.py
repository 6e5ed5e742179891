"""The built-in synth (FluidSynth on JACK), recorded by another JACK client."""

from __future__ import annotations

from hmm_live.live import Engine
from tests.support import melody_bar, play


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
    assert engine.synth is None
    assert engine.status()["last_error"] is None
