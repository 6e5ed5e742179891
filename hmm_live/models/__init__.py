"""Generative models: MusicVAE (and, later, the performer's own subspace models)."""
from hmm_live.models.musicvae import MusicVAE

__all__ = ["MusicVAE"]
