"""One exception family for everything hmm_live reports to its users.

Every message names the file, variable, port or value at fault, so a
performer can fix the input instead of reading a traceback.
"""

from __future__ import annotations


class HmmLiveError(Exception):
    """Base class: catch this to handle any hmm_live failure."""


class CheckpointError(HmmLiveError):
    """A checkpoint file or folder is missing, truncated or inconsistent."""


class DownloadError(CheckpointError):
    """A checkpoint cannot be downloaded: no connection, or one that keeps dropping."""


class UnsupportedModelError(CheckpointError):
    """The checkpoint is a MusicVAE variant hmm_live does not implement."""


class ConfigError(HmmLiveError):
    """An unknown config name or an invalid model/converter specification."""


class MidiFileError(HmmLiveError):
    """A MIDI file cannot be read or written."""


class SequenceError(HmmLiveError):
    """A NoteSequence does not fit the model (length, pitch range, metre)."""


class ChordError(HmmLiveError):
    """Chord symbols are missing, unknown, unexpected or of the wrong count."""


class TrainingBusyError(HmmLiveError):
    """A fit was started while another is still running on the same model."""


class SessionError(HmmLiveError):
    """A session folder cannot be read (missing, half-written, from another version)."""


class PortError(HmmLiveError):
    """A MIDI port or API is missing or cannot be opened."""


class SynthError(HmmLiveError):
    """The built-in synth cannot start (no FluidSynth library, no SoundFont, or no audio system)."""
