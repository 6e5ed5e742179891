"""Generative models: MusicVAE, and the performer's own subspace models built on it.

Names load on first use (PEP 562), so the light modules in here (the published
names of musicvae/catalog.py, for `hmm-live models`) import without TensorFlow.
"""

from typing import TYPE_CHECKING

from hmm_live.errors import TrainingBusyError
from hmm_live.lazy import lazy_names

if TYPE_CHECKING:  # what __getattr__ loads, for type checkers
    from hmm_live.models.musicvae import MusicVAE
    from hmm_live.models.responder import Responder
    from hmm_live.models.subspacer import Subspacer

_LAZY = {
    "MusicVAE": "hmm_live.models.musicvae",
    "Responder": "hmm_live.models.responder",
    "Subspacer": "hmm_live.models.subspacer",
}
__all__ = ["MusicVAE", "Subspacer", "Responder", "TrainingBusyError"]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
