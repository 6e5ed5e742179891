"""The drum jam: a session on the shipped drum model and Groove MIDI clips answers held-out drum bars
with drums, in 2 or 4 dimensions; the sliders and the engine's points follow the subspace's dimensions."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hmm_live.errors import ConfigError
from hmm_live.jam_terminal import prepare
from hmm_live.live.synth import DRUM_CHANNEL
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import quantize, read_midi, slice_bars
from hmm_live.session import Session
from hmm_live.shipped import DRUM_JAM


@pytest.fixture(scope="module")
def drums():
    """A drum session trained in 4 dimensions on the shipped drum clips."""
    session = Session(DRUM_JAM.model, clips=DRUM_JAM.clips)
    session.train(epochs=20, latent_dims=4, background=False)
    return session


@pytest.fixture(scope="module")
def unseen():
    """12 bars of Groove test recordings (the first of every 4), never trained on."""
    sequence = quantize(read_midi(DRUM_JAM.unseen))
    return [slice_bars(sequence, b, 1) for b in range(0, 48, 4)]


def test_the_shipped_drum_clips_are_small_two_bar_drum_parts():
    clips = ClipLibrary.from_midi(DRUM_JAM.clips)
    assert len(clips) == 16
    assert clips.bars == 2
    assert all(n.is_drum for clip in clips for n in clip.sequence.notes)
    assert clips.names[0] == "rock/halftime (drummer1/session1/202), bars 1-2"  # named by the markers
    assert DRUM_JAM.clips.stat().st_size < 16_000
    assert DRUM_JAM.unseen.stat().st_size < 16_000


def test_the_unseen_bars_are_48_bars_of_drums():
    sequence = quantize(read_midi(DRUM_JAM.unseen))
    assert sequence.total_quantized_steps == 48 * 16
    assert all(n.is_drum for n in sequence.notes)


def test_a_drum_session_answers_unseen_bars_with_drums(drums, unseen):
    classes = {p[0] for p in drums.musicvae.data_converter.pitch_classes}
    answers = [drums.answer(bar, seed=i) for i, bar in enumerate(unseen)]
    assert all(len(a.notes) for a in answers)
    assert all(n.is_drum for a in answers for n in a.notes)
    assert {n.pitch for a in answers for n in a.notes} <= classes


def test_a_drum_session_trains_a_4d_subspace_and_its_sliders_have_4_dims(drums):
    from hmm_live.ui.sliders import LatentSliders

    assert drums.subspacer.latent_dims == 4
    assert drums.subspacer.clip_mu.shape == (16, 4)
    sliders = LatentSliders(drums)
    assert len(sliders.sliders) == 4
    sliders.set_point([0.5, -0.5, 0.25, 0.0])
    assert sliders.decoded == 1
    assert sliders.roll.sequence is not None


def test_the_engine_plays_drum_answers_on_channel_10_with_4d_points(drums):
    drums.start(input=False, output=False, bpm=240.0, synth=False)
    answers = drums.bus.subscribe("answers", maxlen=100)
    points = drums.bus.subscribe("points", maxlen=100)
    try:
        assert drums.engine.player.channel == DRUM_CHANNEL
        drums.play_demo(bars=3).join()
        time.sleep(0.6)
        got, where = answers.drain(), points.drain()
    finally:
        drums.stop()
    assert len(got) >= 2  # the first bar played may fall before the start
    assert all(n.is_drum for a in got for n in a.sequence.notes)
    assert len(where) >= 2
    assert all(np.shape(p.point) == (4,) for p in where)


def test_bad_dimensions_are_refused_by_value(drums):
    with pytest.raises(ConfigError, match="latent_dims must be a whole number >= 1, got 0"):
        drums.configure(latent_dims=0)
    with pytest.raises(ConfigError, match=r"latent_dims must be a whole number from 1 to \d+ .*, got 500"):
        drums.train(latent_dims=500, background=False)


def test_the_drum_jam_refuses_a_melody_session_folder(saved):
    with pytest.raises(ConfigError, match="not drums: jam with it without --drums"):
        prepare(saved.path, print, DRUM_JAM)


def test_the_terminal_jam_trains_a_drum_session_folder_and_retrains_it_in_other_dims(tmp_path):
    folder = tmp_path / "drums"
    Session(DRUM_JAM.model, folder, epochs=20).save()  # no clips yet, short training
    said: list[str] = []
    session = prepare(folder, said.append, DRUM_JAM, dims=2)
    assert session.subspacer.latent_dims == 2
    assert len(session.clips) == 16  # the shipped drum clips
    assert any("training a 2-D subspace on 16 clips" in line for line in said)
    again = prepare(folder, said.append, DRUM_JAM, dims=3)
    assert again.subspacer.latent_dims == 3
    assert Session.open(folder).subspacer.latent_dims == 3  # saved
