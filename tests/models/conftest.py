"""Fixtures of the subspace tests: two kinds of clips, a Subspacer and a Responder."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live.models.responder import Responder
from hmm_live.models.subspacer import Subspacer
from hmm_live.music import from_notes
from hmm_live.music.clips import ClipLibrary


@pytest.fixture(scope="module")
def library():
    """Two kinds of clips: running eighths, and quarter notes a fifth lower."""
    rng = np.random.default_rng(3)
    clips = []
    for i in range(12):
        start = int(rng.integers(67, 74))
        clips.append((f"eighths {i}", from_notes([(start + (s % 4) * 2, 2 * s, 2 * s + 2) for s in range(16)], 32)))
        low = start - 7
        clips.append((f"long {i}", from_notes([(low + (s % 3) * 2, 4 * s, 4 * s + 4) for s in range(8)], 32)))
    return ClipLibrary(2, clips)


@pytest.fixture(scope="module")
def subspacer(musicvae, library):
    sub = Subspacer(musicvae, latent_dims=2, seed=1)
    sub.fit(library, epochs=60)
    return sub


@pytest.fixture(scope="module")
def responder(subspacer, library):
    r = Responder(subspacer, seed=1)
    r.fit(library, epochs=30)
    return r
