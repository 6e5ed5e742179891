"""hmm_live: Humans & Machines, live. Improvise with MusicVAE from a Jupyter kernel."""
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's start-up chatter off stage
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# pydub, pulled in by note_seq, warns at import that ffmpeg is missing; hmm_live never uses it
warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)

from hmm_live.errors import (  # noqa: E402
    CheckpointError, ChordError, ConfigError, HmmLiveError, MidiFileError, SequenceError,
    UnsupportedModelError,
)
from hmm_live.models import MusicVAE, Responder, Subspacer, TrainingBusyError  # noqa: E402
from hmm_live.music.clips import Clip, ClipLibrary  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "MusicVAE", "Subspacer", "Responder", "Clip", "ClipLibrary", "HmmLiveError", "TrainingBusyError", "CheckpointError", "UnsupportedModelError", "ConfigError",
    "MidiFileError", "SequenceError", "ChordError",
]
