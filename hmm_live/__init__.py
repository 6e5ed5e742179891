"""hmm_live: Humans & Machines, live. Improvise with MusicVAE from a Jupyter kernel.

The models (and TensorFlow under them) load on first use of a name below, so
`hmm-live --help` and the CLI's argument checks answer at once.
"""

import os
import warnings
from typing import TYPE_CHECKING

# TF's C++ log off stage: its errors there are notices (oneDNN's "DT_INT64 only on AVX-512"
# fallback, on some CPUs); failures reach Python as exceptions. 0 shows everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# pydub, pulled in by note_seq, warns at import that ffmpeg is missing; hmm_live never uses it
warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)

from hmm_live.errors import (  # noqa: E402
    CheckpointError,
    ChordError,
    ConfigError,
    DownloadError,
    HmmLiveError,
    MidiFileError,
    PortError,
    SequenceError,
    SessionError,
    SynthError,
    TrainingBusyError,
    UnsupportedModelError,
)
from hmm_live.lazy import lazy_names  # noqa: E402
from hmm_live.quiet import install as _quiet_tensorflow  # noqa: E402

_quiet_tensorflow()

if TYPE_CHECKING:  # what __getattr__ loads, for type checkers
    from hmm_live.models import MusicVAE, Responder, Subspacer
    from hmm_live.music.clips import Clip, ClipLibrary

__version__ = "0.1.0"
_LAZY = {
    "MusicVAE": "hmm_live.models",
    "Subspacer": "hmm_live.models",
    "Responder": "hmm_live.models",
    "Clip": "hmm_live.music.clips",
    "ClipLibrary": "hmm_live.music.clips",
}
__all__ = [
    "MusicVAE",
    "Subspacer",
    "Responder",
    "Clip",
    "ClipLibrary",
    "HmmLiveError",
    "TrainingBusyError",
    "CheckpointError",
    "DownloadError",
    "UnsupportedModelError",
    "ConfigError",
    "MidiFileError",
    "SequenceError",
    "ChordError",
    "SessionError",
    "PortError",
    "SynthError",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
