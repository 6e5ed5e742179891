"""MusicVAE (Roberts et al. 2018) on Keras 3, loading Magenta's checkpoints."""

from hmm_live.models.musicvae.configs import CONFIGS, get_config
from hmm_live.models.musicvae.model import MusicVAE
from hmm_live.models.musicvae.network import MusicVAENetwork, NetworkSpec

__all__ = ["CONFIGS", "get_config", "MusicVAE", "MusicVAENetwork", "NetworkSpec"]
