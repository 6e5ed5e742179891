"""Generative models: MusicVAE, and the performer's own subspace models built on it."""

from hmm_live.errors import TrainingBusyError
from hmm_live.models.musicvae import MusicVAE
from hmm_live.models.responder import Responder
from hmm_live.models.subspacer import Subspacer

__all__ = ["MusicVAE", "Subspacer", "Responder", "TrainingBusyError"]
