"""NoteSequence plumbing: MIDI files in and out, quantisation, bars and windows.

hmm_live works on note_seq's NoteSequence protos, quantised to 16th notes
(4 steps per quarter, 16 steps per 4/4 bar), as Magenta's MusicVAE does.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import note_seq
from note_seq import sequences_lib
from note_seq.protobuf.music_pb2 import NoteSequence

from hmm_live.errors import MidiFileError, SequenceError
from hmm_live.files import atomic_write

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
DEFAULT_QPM = 120.0
OUTPUT_VELOCITY = 100  # what Magenta's converters write on decoded notes

__all__ = [
    "NoteSequence", "STEPS_PER_QUARTER", "STEPS_PER_BAR", "read_midi", "write_midi",
    "quantize", "is_quantized", "slice_bars", "windows", "num_bars", "from_notes",
]


def read_midi(path: str | os.PathLike) -> NoteSequence:
    """Read a MIDI file into an (unquantised) NoteSequence."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MidiFileError(f"cannot read MIDI file {path}: {e.strerror or e}") from None
    try:
        seq = note_seq.midi_to_note_sequence(data)
    except Exception as e:  # note_seq/pretty_midi raise many kinds on corrupt files
        raise MidiFileError(f"{path} is not a readable MIDI file: {e}") from None
    seq.filename = str(path)
    return seq


def write_midi(sequence: NoteSequence, path: str | os.PathLike) -> Path:
    """Write a NoteSequence (quantised or not) to a MIDI file, atomically."""
    path = Path(path)
    if is_quantized(sequence):
        copy = NoteSequence()
        copy.CopyFrom(sequence)
        sequence = _set_times(copy)
    try:
        midi = note_seq.note_sequence_to_pretty_midi(sequence)
        with atomic_write(path) as f:
            midi.write(f)
    except (OSError, ValueError) as e:  # ValueError: a pitch, velocity... outside MIDI's 0..127
        raise MidiFileError(f"cannot write MIDI file {path}: {getattr(e, 'strerror', None) or e}") from None
    return path


def is_quantized(sequence: NoteSequence) -> bool:
    return sequences_lib.is_relative_quantized_sequence(sequence)


def quantize(sequence: NoteSequence, steps_per_quarter: int = STEPS_PER_QUARTER) -> NoteSequence:
    """Quantise to `steps_per_quarter` (returns the input if it already is)."""
    if is_quantized(sequence):
        have = sequence.quantization_info.steps_per_quarter
        if have != steps_per_quarter:
            raise SequenceError(
                f"{_name(sequence)} is quantised to {have} steps per quarter, "
                f"the model needs {steps_per_quarter}")
        return sequence
    try:
        return sequences_lib.quantize_note_sequence(sequence, steps_per_quarter)
    except Exception as e:  # MultipleTempoChangesError, NegativeTimeError, ...
        raise SequenceError(f"cannot quantise {_name(sequence)}: {e}") from None


def steps_per_bar(sequence: NoteSequence) -> int:
    """Steps per bar of a quantised sequence; only whole-step bars are usable.

    No time signature means 4/4 (the MIDI default, as note_seq's quantiser
    assumes); a change of time signature is refused, as note_seq's quantiser does.
    """
    metres = {(ts.numerator, ts.denominator) for ts in sequence.time_signatures} or {(4, 4)}
    if len(metres) > 1:
        raise SequenceError(f"{_name(sequence)} changes time signature "
                            f"({', '.join(f'{n}/{d}' for n, d in sorted(metres))}): split it first")
    (numerator, denominator), = metres
    if numerator <= 0 or denominator <= 0:
        raise SequenceError(f"{_name(sequence)} has an invalid time signature {numerator}/{denominator}")
    spb = sequence.quantization_info.steps_per_quarter * 4.0 / denominator * numerator
    if spb % 1:
        raise SequenceError(f"{_name(sequence)} has bars of {spb} steps, not a whole number")
    return int(spb)


def num_bars(sequence: NoteSequence) -> int:
    """Number of bars (rounded up) in a quantised sequence."""
    spb = steps_per_bar(sequence)
    return -(-sequence.total_quantized_steps // spb)


def slice_bars(sequence: NoteSequence, start_bar: int, bars: int) -> NoteSequence:
    """The notes that start within bars [start_bar, start_bar + bars), shifted to step 0.

    Note ends are clipped to the end of the slice, as Magenta's windowing does.
    """
    sequence = quantize(sequence)
    spb = steps_per_bar(sequence)
    start, end = start_bar * spb, (start_bar + bars) * spb
    out = NoteSequence()
    out.CopyFrom(sequence)
    del out.notes[:]
    for note in sequence.notes:
        if start <= note.quantized_start_step < end:
            n = out.notes.add()
            n.CopyFrom(note)
            n.quantized_start_step -= start
            n.quantized_end_step = min(note.quantized_end_step, end) - start
    out.total_quantized_steps = end - start
    return _set_times(out)


def windows(sequence: NoteSequence, bars: int = 2, hop_bars: int = 1) -> Iterator[NoteSequence]:
    """Slide a window of `bars` bars over the sequence, `hop_bars` at a time."""
    total = num_bars(quantize(sequence))
    for start in range(0, max(total - bars, 0) + 1, hop_bars):
        yield slice_bars(sequence, start, bars)


def from_notes(notes: Iterable[Sequence[int]], total_steps: int, *, is_drum: bool = False,
               qpm: float = DEFAULT_QPM) -> NoteSequence:
    """A quantised 4/4 NoteSequence from (pitch, start_step, end_step) triples."""
    seq = NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=4, denominator=4)
    seq.quantization_info.steps_per_quarter = STEPS_PER_QUARTER
    for pitch, start, end in notes:
        seq.notes.add(pitch=int(pitch), velocity=OUTPUT_VELOCITY, is_drum=is_drum,
                      quantized_start_step=int(start), quantized_end_step=int(end))
    seq.total_quantized_steps = total_steps
    return _set_times(seq)


def _set_times(sequence: NoteSequence) -> NoteSequence:
    """Fill start/end times of a quantised sequence (in place) from its steps and first tempo."""
    qpm = sequence.tempos[0].qpm if sequence.tempos else DEFAULT_QPM
    step = 60.0 / qpm / sequence.quantization_info.steps_per_quarter
    for n in sequence.notes:
        n.start_time = n.quantized_start_step * step
        n.end_time = n.quantized_end_step * step
    sequence.total_time = sequence.total_quantized_steps * step
    return sequence


def _name(sequence: NoteSequence) -> str:
    return sequence.filename or sequence.id or "the NoteSequence"
