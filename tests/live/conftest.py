"""Fixtures of the live tests: the shipped melody model with a small subspace and responder."""

from __future__ import annotations

import pytest

from hmm_live import ClipLibrary, MusicVAE, Responder, Subspacer
from hmm_live.music import from_notes
from hmm_live.shipped import DEFAULT_MODEL


@pytest.fixture(scope="module")
def models():
    vae = MusicVAE.load(DEFAULT_MODEL)
    clips = [
        (f"clip {i}", from_notes([(62 + (s * (i + 1)) % 12, 2 * s, 2 * s + 2) for s in range(16)], 32))
        for i in range(8)
    ]
    library = ClipLibrary(2, clips)
    sub = Subspacer(vae, 2, seed=0)
    sub.fit(library, epochs=30)
    responder = Responder(sub, seed=0)
    responder.fit(library, epochs=10)
    return vae, sub, responder
