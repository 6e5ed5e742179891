"""Training the performer's subspace from clips: a Subspacer, then a Responder on it.

(MusicVAE's own training is hmm_live/training/.)
"""

from __future__ import annotations

from collections.abc import Callable

from hmm_live.models.musicvae import MusicVAE
from hmm_live.models.responder import Responder
from hmm_live.models.subspacer import Subspacer
from hmm_live.music.clips import ClipLibrary

# progress(stage, epoch, epochs, logs): stage is "subspacer" or "responder", epoch counts from 1,
# epochs is None while the subspacer trains until its clips decode back
Progress = Callable[[str, int, int | None, dict], None]
RESPONDER_EPOCHS = 100  # when the subspacer trains until it converges


def train_subspace(
    musicvae: MusicVAE,
    clips: ClipLibrary,
    latent_dims: int = 2,
    beta: float = 1.0,
    epochs: int | None = None,
    progress: Progress | None = None,
    previous: Subspacer | None = None,
) -> tuple[Subspacer, Responder]:
    """A new Subspacer and Responder trained on the clips (seconds).

    New models, not retrained old ones: whoever uses the old pair (the live
    engine) keeps a consistent pair until it swaps in both of the new ones.
    epochs=None trains the subspacer until its clips decode back (see
    `Subspacer.fit`) and the responder for RESPONDER_EPOCHS. `previous`, the
    subspacer being replaced, keeps its clips near their places on the map.
    """

    def report(stage: str, total: int | None):
        return [lambda epoch, logs: progress(stage, epoch + 1, total, logs)] if progress else None

    subspacer = Subspacer(musicvae, latent_dims=latent_dims, beta=beta)
    subspacer.fit(clips, epochs=epochs, callbacks=report("subspacer", epochs), align_to=previous)
    responder = Responder(subspacer)
    responder_epochs = RESPONDER_EPOCHS if epochs is None else epochs
    responder.fit(clips, epochs=responder_epochs, callbacks=report("responder", responder_epochs))
    return subspacer, responder
