"""MusicVAE (Roberts et al. 2018) on Keras 3, loading Magenta's checkpoints.

The network and model load on first use (PEP 562): the config names and the
published checkpoints (catalog.py) need no TensorFlow.
"""

from typing import TYPE_CHECKING

from hmm_live.lazy import lazy_names
from hmm_live.models.musicvae.configs import CONFIGS, get_config

if TYPE_CHECKING:  # what __getattr__ loads, for type checkers
    from hmm_live.models.musicvae.model import MusicVAE
    from hmm_live.models.musicvae.network import MusicVAENetwork, NetworkSpec

_LAZY = {
    "MusicVAE": "hmm_live.models.musicvae.model",
    "MusicVAENetwork": "hmm_live.models.musicvae.network",
    "NetworkSpec": "hmm_live.models.musicvae.network",
}
__all__ = ["CONFIGS", "get_config", "MusicVAE", "MusicVAENetwork", "NetworkSpec"]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
