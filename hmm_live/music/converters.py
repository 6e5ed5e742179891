"""Data converters: NoteSequence <-> the tensors a MusicVAE reads and writes.

A converter owns one event encoding (melody, drums). Its spec is the
magenta-js `dataConverter` JSON, so a checkpoint's config.json picks it:
each DataConverter subclass registers the spec type names it reads with
`@handles(...)`, and `converter_from_spec` looks them up. The concrete
converters live in their own modules (melody.py, melody_controls.py, drums.py, groove.py, multitrack.py...), which import this
one; `hmm_live/music/__init__.py` imports them, so they are registered before
any spec is read. A new encoding: subclass DataConverter, decorate it with
`@handles`, import its module there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from hmm_live import limits
from hmm_live.errors import ConfigError, SequenceError, UnsupportedModelError
from hmm_live.limits import int_field, of_type
from hmm_live.music.sequences import STEPS_PER_BAR, STEPS_PER_QUARTER, NoteSequence, quantize, steps_per_bar


class DataConverter(ABC):
    """Turns quantised sequences of `num_steps` 16ths into encoder inputs and labels."""

    js_type: str  # the magenta-js dataConverter type name
    input_depth: int  # width of one encoder input step
    output_depth: int  # number of decoder classes
    split_depths: tuple[int, ...] = ()  # classes of each instrument, where each has a decoder (trio)
    multi_label: bool = False  # labels are bit masks of output_depth classes (a NADE decoder's)
    continuous: bool = False  # labels are floats [steps, output_depth], not classes (GrooVAE's performance)
    steps_per_quarter: int = STEPS_PER_QUARTER  # the grid sequences are quantised to
    whole_bars: bool = True  # numSteps counts 16ths of whole bars (multitrack's count token rows)
    by_track: bool = False  # each segment is one instrument's track, not a bar (multitrack)
    end_token: int | None = None  # the input class that ends each segment, where segments vary in length

    def __init__(self, num_steps: int, num_segments: int | None = None):
        num_steps = int_field(num_steps, "dataConverter field 'numSteps'", 1, limits.MAX_STEPS)
        if self.whole_bars and num_steps % STEPS_PER_BAR:
            raise ConfigError(f"numSteps must be a positive multiple of {STEPS_PER_BAR}, got {num_steps}")
        if num_segments is not None:
            num_segments = int_field(num_segments, "dataConverter field 'numSegments'", 1, limits.MAX_SEGMENTS)
            if num_steps % num_segments:
                raise ConfigError(f"numSteps {num_steps} does not split into {num_segments} segments")
        self.num_steps = num_steps
        self.num_segments = num_segments

    @property
    def num_bars(self) -> int:
        return self.num_steps // STEPS_PER_BAR

    def _quantized(self, sequence: NoteSequence) -> NoteSequence:
        seq = quantize(sequence)
        if seq.notes and steps_per_bar(seq) != STEPS_PER_BAR:
            name = seq.filename or seq.id or "the NoteSequence"
            raise SequenceError(f"{name} is not in 4/4: the model needs {STEPS_PER_BAR}-step bars")
        return seq

    def prepare(self, sequence: NoteSequence) -> NoteSequence:
        """Quantise and check that the sequence fits the model's window."""
        seq = self._quantized(sequence)
        name = seq.filename or seq.id or "the NoteSequence"
        for n in seq.notes:
            if n.quantized_start_step < 0 or n.quantized_end_step < n.quantized_start_step:
                raise SequenceError(
                    f"{name}: note {n.pitch} has bad steps {n.quantized_start_step}.."
                    f"{n.quantized_end_step} (a note must start at step 0 or later "
                    f"and not end before it starts)"
                )
        last = max((n.quantized_start_step for n in seq.notes), default=-1)
        if last >= self.num_steps:
            raise SequenceError(
                f"{name} has notes up to step {last}, longer than the model's "
                f"{self.num_steps} steps ({self.num_bars} bars): slice it with "
                f"hmm_live.music.slice_bars or windows first"
            )
        return seq

    @abstractmethod
    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        """The decoder's targets: a class index per step, shape [num_steps] (GrooVAE:
        [num_steps, output_depth] floats)."""

    def training_windows(self, sequence: NoteSequence, controls: np.ndarray | None = None) -> np.ndarray:
        """Training examples from a whole piece, as Magenta slices them: labels
        [n, num_steps] ([n, num_steps, 3] for a trio) of every window starting on a bar line,
        one bar apart, for each track (see `_tracks`); windows without a note and repeats are dropped.

        `controls` (one integer per step of the piece, such as a chord's index; the
        last one holds past its end; one-track converters only) come along: each row is
        then the window's labels followed by its controls, [n, 2 * num_steps], and a
        window counts once per distinct controls (as Magenta's chord-conditioned converters do)."""
        seq = self._quantized(sequence)
        found: dict[bytes, np.ndarray] = {}  # a window's bytes -> the window: repeats dropped
        step_shape: tuple[int, ...] = (len(self.split_depths),) if self.split_depths else ()
        for events in self._tracks(seq):
            if controls is not None:
                along = np.pad(controls, (0, max(len(events) - len(controls), 0)), mode="edge")[: len(events)]
                events = np.stack([events, along.astype(events.dtype)], axis=-1)
            for start in range(0, len(events) - self.num_steps + 1, STEPS_PER_BAR):
                window = events[start : start + self.num_steps]
                labels = window if controls is None else window[:, 0]
                if self._has_onset(labels) and window.min() >= 0:  # -1 marks an unusable step
                    found.setdefault(window.tobytes(), window)
        windows = np.array(list(found.values()), np.int64)
        if controls is None:
            return windows.reshape(-1, self.num_steps, *step_shape)
        return windows.reshape(-1, self.num_steps, 2).transpose(0, 2, 1).reshape(-1, 2 * self.num_steps)

    @abstractmethod
    def _tracks(self, sequence: NoteSequence) -> list[np.ndarray]:
        """Whole-piece labels, one array per track, padded to whole bars."""

    @abstractmethod
    def _has_onset(self, labels: np.ndarray) -> bool:
        """Whether a window of labels holds at least one note."""

    @abstractmethod
    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        """Encoder input, shape [num_steps, input_depth], float32."""

    @abstractmethod
    def from_labels(self, labels: np.ndarray) -> NoteSequence:
        """Decoder classes back to a quantised NoteSequence (GrooVAE: its outputs to a performance)."""

    @classmethod
    @abstractmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> DataConverter:
        """The converter a spec of type `kind` (one this class `handles`) and these args describe;
        a missing required argument raises KeyError."""

    @abstractmethod
    def args(self) -> dict[str, Any]:
        """The converter-specific magenta-js args."""

    def spec(self) -> dict[str, Any]:
        args = {"numSteps": self.num_steps, **self.args()}
        if self.num_segments:
            args["numSegments"] = self.num_segments
        return {"type": self.js_type, "args": args}

    def one_hot(self, labels: np.ndarray) -> np.ndarray:
        return np.eye(self.output_depth, dtype=np.float32)[labels]


_CONVERTERS: dict[str, type[DataConverter]] = {}  # dataConverter type name -> the class that reads it


def handles(*kinds: str) -> Callable[[type[DataConverter]], type[DataConverter]]:
    """Class decorator: `converter_from_spec` builds this class for specs of these type names."""

    def register(cls: type[DataConverter]) -> type[DataConverter]:
        for kind in kinds:
            _CONVERTERS[kind] = cls
        return cls

    return register


def converter_from_spec(spec: dict[str, Any]) -> DataConverter:
    """Build a converter from a magenta-js `dataConverter` spec."""
    of_type(spec, dict, "dataConverter")
    kind = spec.get("type")
    args = of_type(spec.get("args") or {}, dict, "dataConverter field 'args'")
    if not isinstance(kind, str) or kind not in _CONVERTERS:
        if isinstance(kind, str) and kind in _UNSUPPORTED:
            raise UnsupportedModelError(f"{kind} models ({_UNSUPPORTED[kind]}) are not supported by hmm_live")
        raise ConfigError(f"unknown dataConverter type {kind!r:.60}")
    try:
        return _CONVERTERS[kind].from_args(kind, args)
    except KeyError as e:
        raise ConfigError(f"dataConverter {kind!r} lacks the argument {e.args[0]!r}") from None


_UNSUPPORTED = {"TrioRhythmConverter": "trio rhythm"}
