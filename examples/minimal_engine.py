"""A minimal live engine: the shipped default models, the built-in synth, the built-in demo performance.

Trains a 2-D subspace and a responder on the shipped clips (seconds), starts an
Engine with no MIDI ports (the performance is fed straight into its capture),
lets the machine answer 8 bars through the built-in synth (FluidSynth; it says
so when there is no audio system), prints each answer and stops.

Run: .venv/bin/python examples/minimal_engine.py
"""

import time

from hmm_live.live import Engine
from hmm_live.live.demo import play
from hmm_live.models import MusicVAE
from hmm_live.models.subspace_training import train_subspace
from hmm_live.music.clips import ClipLibrary
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS

BARS = 8
musicvae = MusicVAE.load(DEFAULT_MODEL)
clips = ClipLibrary.from_midi(DEMO_CLIPS, bars=2)
subspacer, responder = train_subspace(musicvae, clips)

engine = Engine(musicvae, subspacer, responder, input=False, output=False, bpm=120, synth=True)
answers = engine.bus.subscribe("answers")
with engine:  # start(); stop() on the way out: all notes off, every thread joined
    print("sound:", engine.status()["sound"])
    play(engine, clips, BARS).join()  # the performance, with human timing, from the next bar
    time.sleep(2 * engine.clock.bar_seconds)  # the last bar's answer sounds
    for answer in answers.drain():
        print(
            f"bar {answer.answering + 1}, {len(answer.input.notes)} notes, answered on bar "
            f"{answer.bar + 1}: {[n.pitch for n in answer.sequence.notes]}"
        )
print(engine.status()["answered"], "bars answered")
