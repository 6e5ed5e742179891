"""Music data: NoteSequences, MIDI files, and Magenta's event encodings."""

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()):  # note_seq > pretty_midi > pyfluidsynth prints a line when $CI is set
    import note_seq  # noqa: F401
from hmm_live.music.chords import NO_CHORD, ChordEncoder
from hmm_live.music.clips import Clip, ClipLibrary, to_roll
from hmm_live.music.converters import DataConverter, converter_from_spec
from hmm_live.music.drums import DrumRollConverter, DrumsConverter  # importing a converter registers it
from hmm_live.music.groove import GrooveConverter
from hmm_live.music.melody import MelodyConverter
from hmm_live.music.melody_controls import MelodyRhythmConverter, MelodyShapeConverter, melody_controls
from hmm_live.music.multitrack import MultitrackConverter
from hmm_live.music.sequences import (
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    NoteSequence,
    from_notes,
    is_quantized,
    num_bars,
    quantize,
    read_midi,
    slice_bars,
    windows,
    write_midi,
)
from hmm_live.music.trio import TrioConverter

__all__ = [
    "NO_CHORD",
    "ChordEncoder",
    "Clip",
    "ClipLibrary",
    "to_roll",
    "DataConverter",
    "converter_from_spec",
    "DrumsConverter",
    "DrumRollConverter",
    "TrioConverter",
    "GrooveConverter",
    "MelodyConverter",
    "MelodyRhythmConverter",
    "MelodyShapeConverter",
    "melody_controls",
    "MultitrackConverter",
    "STEPS_PER_BAR",
    "STEPS_PER_QUARTER",
    "NoteSequence",
    "from_notes",
    "is_quantized",
    "num_bars",
    "quantize",
    "read_midi",
    "slice_bars",
    "windows",
    "write_midi",
]
