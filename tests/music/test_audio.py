"""Audio previews (hmm_live.music.audio) with the sine synth and FluidSynth."""

from __future__ import annotations

import numpy as np

from hmm_live.music import audio


def test_audio_previews_with_either_synth(monkeypatch):
    from hmm_live.music.sequences import from_notes

    melody = from_notes([(60, 0, 4), (67, 4, 8), (72, 8, 16)], 32)  # notes for 2 s at 120 BPM
    synths = ["sine"] + (["fluidsynth"] if audio.synth() == "fluidsynth" else [])
    for name in synths:
        monkeypatch.setattr(audio, "synth", lambda name=name: name)
        sound = audio.render(melody)
        assert 2 * audio.SAMPLE_RATE <= len(sound) <= 6 * audio.SAMPLE_RATE, name
        assert 0.7 < np.abs(sound).max() <= 0.8 + 1e-6
        assert audio.wav_bytes(sound)[:4] == b"RIFF"
