"""Training the performer's subspace from clips: a Subspacer, then a Responder on it."""
from __future__ import annotations

from typing import Callable

from hmm_live.models import MusicVAE, Responder, Subspacer
from hmm_live.music.clips import ClipLibrary

# progress(stage, epoch, logs): stage is "subspacer" or "responder", epoch counts from 1
Progress = Callable[[str, int, dict], None]


def train_subspace(musicvae: MusicVAE, clips: ClipLibrary, latent_dims: int = 2, beta: float = 1.0,
                   epochs: int = 100, progress: Progress | None = None) -> tuple[Subspacer, Responder]:
    """A new Subspacer and Responder trained on the clips (seconds).

    New models, not retrained old ones: whoever uses the old pair (the live
    engine) keeps a consistent pair until it swaps in both of the new ones.
    """
    def report(stage: str):
        return [lambda epoch, logs: progress(stage, epoch + 1, logs)] if progress else None

    subspacer = Subspacer(musicvae, latent_dims=latent_dims, beta=beta)
    subspacer.fit(clips, epochs=epochs, callbacks=report("subspacer"))
    responder = Responder(subspacer)
    responder.fit(clips, epochs=epochs, callbacks=report("responder"))
    return subspacer, responder
