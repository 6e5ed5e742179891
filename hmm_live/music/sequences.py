"""NoteSequence plumbing: MIDI files in and out, quantisation, bars and windows.

hmm_live works on note_seq's NoteSequence protos, quantised to 16th notes
(4 steps per quarter, 16 steps per 4/4 bar), as Magenta's MusicVAE does.
"""

from __future__ import annotations

import io
import os
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import mido
import note_seq
from note_seq import sequences_lib
from note_seq.protobuf.music_pb2 import NoteSequence

from hmm_live import limits
from hmm_live.errors import MidiFileError, SequenceError
from hmm_live.files import atomic_write
from hmm_live.grid import STEPS_PER_BAR, STEPS_PER_QUARTER, step_seconds

DEFAULT_QPM = 120.0
OUTPUT_VELOCITY = 100  # what Magenta's converters write on decoded notes
_DEFAULT_TEMPO = 500_000  # microseconds per quarter note: MIDI's 120 bpm

__all__ = [
    "NoteSequence",
    "STEPS_PER_QUARTER",
    "STEPS_PER_BAR",
    "qpm_of",
    "step_seconds",
    "read_midi",
    "read_midi_events",
    "write_midi",
    "checked_midi",
    "quantize",
    "is_quantized",
    "slice_bars",
    "windows",
    "num_bars",
    "from_notes",
    "BarSlicer",
]


def qpm_of(sequence: NoteSequence) -> float:
    """The sequence's first tempo (Magenta's default, 120, where it has none)."""
    return sequence.tempos[0].qpm if sequence.tempos else DEFAULT_QPM


def read_midi(path: str | os.PathLike) -> NoteSequence:
    """Read a MIDI file into an (unquantised) NoteSequence, once `checked_midi` passes it."""
    return read_midi_events(path)[0]


def read_midi_events(path: str | os.PathLike) -> tuple[NoteSequence, mido.MidiFile]:
    """The NoteSequence and mido's parse, from one read of the file: mido keeps what the
    note reader drops (marker events)."""
    path = Path(path)
    data, midi = checked_midi(path)
    try:
        seq = note_seq.midi_to_note_sequence(data)
    except Exception as e:  # note_seq/pretty_midi raise many kinds on corrupt files
        raise MidiFileError(f"{path} is not a readable MIDI file: {e}") from None
    seq.filename = str(path)
    return seq, midi


def checked_midi(path: str | os.PathLike) -> tuple[bytes, mido.MidiFile]:
    """A MIDI file's bytes and mido's parse of them, refused with a MidiFileError naming the
    file and the bound if it is past any of hmm_live.limits' MIDI bounds.

    note_seq and pretty_midi allocate per tick and per event, so a 40-byte
    file can ask them for gigabytes; they see only files checked here.
    """
    path = Path(path)
    data = limits.read_file(path, limits.MAX_MIDI_BYTES, "MIDI file", MidiFileError)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeySignatureError...
        raise MidiFileError(f"{path} is not a readable MIDI file: {str(e) or type(e).__name__}") from None
    _check_midi(midi, path)
    return data, midi


def _check_midi(midi: mido.MidiFile, path: Path) -> None:
    def bound(what: str, value: float, limit: float) -> None:
        if value > limit:
            raise MidiFileError(f"{path} has {value:,.0f} {what}, over hmm_live's limit of {limit:,.0f}")

    if not 1 <= midi.ticks_per_beat <= 32767:  # 0, or an SMPTE time division
        raise MidiFileError(
            f"{path} has an unsupported time division {midi.ticks_per_beat} (ticks per quarter note must be 1..32767)"
        )
    bound("tracks", len(midi.tracks), limits.MAX_MIDI_TRACKS)
    bound("events", sum(len(t) for t in midi.tracks), limits.MAX_MIDI_EVENTS)
    notes, changes, tempos, end = 0, 0, [], 0
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            notes += message.type == "note_on" and message.velocity > 0
            if message.type in ("set_tempo", "time_signature", "key_signature"):
                changes += 1
            if message.type == "set_tempo":
                tempos.append((tick, message.tempo))
        end = max(end, tick)
    bound("notes", notes, limits.MAX_MIDI_NOTES)
    bound("tempo, time and key signature events", changes, limits.MAX_MIDI_CHANGES)
    bound("ticks", end, limits.MAX_MIDI_TICKS)
    bound("quarter notes", end / midi.ticks_per_beat, limits.MAX_MIDI_BEATS)
    bound("seconds", _seconds(end, sorted(tempos), midi.ticks_per_beat), limits.MAX_MIDI_SECONDS)


def _seconds(end: int, tempos: list[tuple[int, int]], ticks_per_beat: int) -> float:
    """Seconds from tick 0 to `end` under the (tick, microseconds per quarter) tempo changes."""
    micros, tick, tempo = 0.0, 0, _DEFAULT_TEMPO
    for at, new in tempos:
        if at >= end:
            break
        micros += (at - tick) * tempo
        tick, tempo = at, new
    return (micros + (end - tick) * tempo) / ticks_per_beat / 1e6


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
                f"{_name(sequence)} is quantised to {have} steps per quarter, the model needs {steps_per_quarter}"
            )
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
        raise SequenceError(
            f"{_name(sequence)} changes time signature "
            f"({', '.join(f'{n}/{d}' for n, d in sorted(metres))}): split it first"
        )
    ((numerator, denominator),) = metres
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


def slice_bars(
    sequence: NoteSequence, start_bar: int, bars: int, steps_per_quarter: int = STEPS_PER_QUARTER
) -> NoteSequence:
    """The notes that start within bars [start_bar, start_bar + bars), shifted to step 0, quantised
    at `steps_per_quarter` (a model's `data_converter.steps_per_quarter`).

    Note ends are clipped to the end of the slice, as Magenta's windowing does.
    """
    return BarSlicer(sequence, steps_per_quarter).slice(start_bar, bars)


def windows(sequence: NoteSequence, bars: int = 2, hop_bars: int = 1) -> Iterator[NoteSequence]:
    """Slide a window of `bars` bars over the sequence, `hop_bars` at a time."""
    slicer = BarSlicer(sequence)
    for start in range(0, max(slicer.num_bars - bars, 0) + 1, hop_bars):
        yield slicer.slice(start, bars)


class BarSlicer:
    """Slices of one sequence, each costing only its own notes.

    The notes are sorted by start once and each slice bisects them, so cutting
    a long file into clips is not quadratic. A slice keeps the sequence's
    tempo, metre and key; controller events, pitch bends and text of the whole
    piece are left out (at the piece's times, they would not fit the slice).
    """

    def __init__(self, sequence: NoteSequence, steps_per_quarter: int = STEPS_PER_QUARTER):
        sequence = quantize(sequence, steps_per_quarter)
        self.steps_per_bar = steps_per_bar(sequence)
        self.num_bars = num_bars(sequence)
        self._header = NoteSequence()
        self._header.CopyFrom(sequence)
        for field in ("notes", "control_changes", "pitch_bends", "text_annotations", "section_annotations"):
            self._header.ClearField(field)
        self._notes = sorted(sequence.notes, key=lambda n: n.quantized_start_step)
        self._starts = [n.quantized_start_step for n in self._notes]

    def occupied(self, bars: int) -> list[int]:
        """The first bars of the consecutive `bars`-bar slices that hold a note."""
        size = bars * self.steps_per_bar
        return sorted({start // size * bars for start in self._starts if start >= 0})

    def slice(self, start_bar: int, bars: int) -> NoteSequence:
        """The notes starting in bars [start_bar, start_bar + bars), shifted to step 0."""
        start, end = start_bar * self.steps_per_bar, (start_bar + bars) * self.steps_per_bar
        out = NoteSequence()
        out.CopyFrom(self._header)
        for note in self._notes[bisect_left(self._starts, start) : bisect_left(self._starts, end)]:
            n = out.notes.add()
            n.CopyFrom(note)
            n.quantized_start_step -= start
            n.quantized_end_step = min(note.quantized_end_step, end) - start
        out.total_quantized_steps = end - start
        return _set_times(out)


def from_notes(
    notes: Iterable[Sequence[int]],
    total_steps: int,
    *,
    is_drum: bool = False,
    qpm: float = DEFAULT_QPM,
    steps_per_quarter: int = STEPS_PER_QUARTER,
) -> NoteSequence:
    """A quantised 4/4 NoteSequence from (pitch, start_step, end_step) triples."""
    seq = NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=4, denominator=4)
    seq.quantization_info.steps_per_quarter = steps_per_quarter
    for pitch, start, end in notes:
        seq.notes.add(
            pitch=int(pitch),
            velocity=OUTPUT_VELOCITY,
            is_drum=is_drum,
            quantized_start_step=int(start),
            quantized_end_step=int(end),
        )
    seq.total_quantized_steps = total_steps
    return _set_times(seq)


def _set_times(sequence: NoteSequence) -> NoteSequence:
    """Fill start/end times of a quantised sequence (in place) from its steps and first tempo."""
    qpm = qpm_of(sequence)
    step = 60.0 / qpm / sequence.quantization_info.steps_per_quarter
    for n in sequence.notes:
        n.start_time = n.quantized_start_step * step
        n.end_time = n.quantized_end_step * step
    sequence.total_time = sequence.total_quantized_steps * step
    return sequence


def _name(sequence: NoteSequence) -> str:
    return sequence.filename or sequence.id or "the NoteSequence"
