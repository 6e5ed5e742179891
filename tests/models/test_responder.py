"""The Responder on the shipped melody model: from a bar played to a point of the subspace."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import ConfigError, SequenceError
from hmm_live.models.responder import Responder
from hmm_live.models.subspacer import Subspacer
from hmm_live.music import from_notes
from hmm_live.music.clips import ClipLibrary


def test_responder_predicts_points_near_its_clips(responder, subspacer, library):
    means = subspacer.clip_mu
    kinds = np.array([name.startswith("long") for name in library.names])
    points = responder.predict([clip.bar(0) for clip in library])
    assert points.shape == (len(library), 2)
    nearest = np.argmin(((points[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (kinds[nearest] == kinds).mean() >= 0.9  # lands among clips of its own kind
    assert responder.predict(np.zeros((128, 16))).shape == (2,)
    assert not responder.stale


def test_default_melody_responder_hears_a_bar_as_a_transposable_loop(responder, library):
    """Rotated (a capture started off the downbeat) or transposed, a bar lands on the same point."""
    assert responder.shape == "pooled"
    roll = library[0].rolls()[0]
    point = responder.predict(roll)
    for k in range(1, 16):
        np.testing.assert_allclose(responder.predict(np.roll(roll, k, axis=1)), point, atol=1e-5)
    for semitones in (-5, 2, 12):
        np.testing.assert_allclose(responder.predict(np.roll(roll, semitones, axis=0)), point, atol=1e-5)


def test_responder_split_holds_out_the_same_bars_every_fit(subspacer):
    r = Responder(subspacer, validation_split=0.25, seed=4)
    trained, held = r.split(40)
    assert len(held) == 10
    assert sorted([*trained, *held]) == list(range(40))
    again = Responder(subspacer, validation_split=0.25, seed=4).split(40)
    assert (again[0] == trained).all()
    assert (again[1] == held).all()
    assert len(Responder(subspacer, validation_split=0.0).split(40)[1]) == 0


def test_responder_places_its_training_bars_at_their_own_clips(musicvae):
    """Every bar trained on (none held out) lands nearest its own clip's mean, among 8 distinct clips."""
    rng = np.random.default_rng(5)
    clips = []
    for i in range(8):
        steps = np.cumsum(rng.choice([1, 2, 4], 24))
        steps = np.concatenate([[0], steps[steps < 32]])
        clips.append(
            (
                f"tune {i}",
                from_notes(
                    [(int(rng.integers(60, 80)), int(a), int(b)) for a, b in zip(steps, np.append(steps[1:], 32))], 32
                ),
            )
        )
    library = ClipLibrary(2, clips)
    sub = Subspacer(musicvae, latent_dims=2, seed=1)
    sub.fit(library, epochs=100)
    responder = Responder(sub, validation_split=0.0, seed=1)
    responder.fit(library, epochs=100)
    points = responder.predict(np.concatenate([clip.rolls() for clip in library]))
    nearest = np.argmin(((points[:, None] - sub.clip_mu[None]) ** 2).sum(-1), axis=1)
    assert (nearest == np.repeat(np.arange(len(library)), 2)).mean() >= 0.9


def test_responder_checks_its_input(responder, subspacer):
    with pytest.raises(SequenceError, match="non-empty ClipLibrary"):
        responder.fit(ClipLibrary(2))
    with pytest.raises(ConfigError, match="unknown responder shape"):
        Responder(subspacer, shape="hexagonal")
    for contrast in (-1.0, float("nan"), "lots"):
        with pytest.raises(ConfigError, match="contrast"):
            Responder(subspacer, contrast=contrast)
