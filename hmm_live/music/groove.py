"""Drum performances as GrooVAE's (hit, velocity, offset) triples per step and drum class.

A step of a 9-class groove is 27 floats: 9 hits (0 or 1), 9 velocities
(velocity / 127) and 9 timing offsets, each the distance from the 16th-note
grid to the onset in half steps (-1..1; positive = played early). One hit per
class and step: the loudest (the first of equals). This is the meaning of
Python Magenta's GrooveConverter and of magenta-js 1.23.1's, which agree.

The encoder's input can hide what the model is to supply:
- `humanize`: hits only, velocities and offsets zeroed (a quantised,
  flat-velocity pattern in, a performance out);
- `tapify`: every note, of any instrument, becomes a tap on the open hi-hat
  class (the loudest note of a step gives the tap's offset), velocities
  zeroed: a rhythm tapped on anything in, drums out (tap2drum). Python Magenta
  zeroes the tap's velocities only with `fixed_velocities`, which the
  published tap2drum models were trained with; magenta-js always does.

Unlike both references, a groove's drums (not taps) are read from `is_drum`
notes only, as the drum converter reads them: a piano's C2 is not a kick.
The pitch table is note_seq's (the one Python Magenta decodes GrooVAE with;
exports write it into config.json, so magenta-js decodes the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from note_seq.drums_encoder_decoder import DEFAULT_DRUM_TYPE_PITCHES

from hmm_live.errors import ConfigError, SequenceError, UnsupportedModelError
from hmm_live.limits import MAX_DRUM_CLASSES, int_list, of_type
from hmm_live.music.converters import DataConverter, handles
from hmm_live.music.sequences import DEFAULT_QPM, STEPS_PER_BAR, STEPS_PER_QUARTER, NoteSequence, qpm_of, step_seconds

MAX_VELOCITY = 127
TAP_CLASS = 3  # the open hi-hat: where tapify puts every tap, as both references do


@handles("GrooveConverter")
class GrooveConverter(DataConverter):
    js_type = "GrooveConverter"
    continuous = True

    def __init__(
        self,
        num_steps: int = 32,
        pitch_classes: Sequence[Sequence[int]] | None = None,
        humanize: bool = False,
        tapify: bool = False,
    ):
        super().__init__(num_steps)
        classes = DEFAULT_DRUM_TYPE_PITCHES if pitch_classes is None else pitch_classes
        if not isinstance(classes, (list, tuple)) or not TAP_CLASS < len(classes) <= MAX_DRUM_CLASSES:
            raise ConfigError(
                f"GrooVAE pitchClasses must be {TAP_CLASS + 1}..{MAX_DRUM_CLASSES} non-empty lists of pitches, "
                f"got {classes!r:.60}"
            )
        self.pitch_classes = [list(int_list(c, f"drum pitchClasses[{i}]", 0, 127, 128)) for i, c in enumerate(classes)]
        self.class_of = {p: c for c, ps in enumerate(self.pitch_classes) for p in ps}
        self.humanize = of_type(humanize, bool, "dataConverter field 'humanize'")
        self.tapify = of_type(tapify, bool, "dataConverter field 'tapify'")
        self.num_drums = len(self.pitch_classes)
        self.input_depth = self.output_depth = 3 * self.num_drums

    @classmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> GrooveConverter:
        """magenta-js's GrooveConverter args; the ones no published GrooVAE uses are refused."""
        if args.get("stepsPerQuarter", STEPS_PER_QUARTER) != STEPS_PER_QUARTER:
            raise UnsupportedModelError(
                f"GrooveConverter stepsPerQuarter {args['stepsPerQuarter']!r:.20}: hmm_live's grid is "
                f"{STEPS_PER_QUARTER} steps per quarter"
            )
        for arg, what in (("splitInstruments", "one drum per decoder step"), ("numSegments", "a hierarchical decoder")):
            if args.get(arg):
                raise UnsupportedModelError(f"GrooveConverter {arg} ({what}) is not supported by hmm_live")
        return cls(args["numSteps"], args.get("pitchClasses"), args.get("humanize", False), args.get("tapify", False))

    def args(self) -> dict[str, Any]:
        return {"pitchClasses": self.pitch_classes, "humanize": self.humanize, "tapify": self.tapify}

    # -- NoteSequence -> tensors ------------------------------------------
    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        """The performance the decoder is to write: [num_steps, 3 * drums]."""
        return self._groove(sequence, tap=False)

    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        """The encoder's input [num_steps, 3 * drums]: the groove, humanised or tapped if the model says so."""
        inputs = self._groove(sequence, tap=self.tapify)
        d = self.num_drums
        if self.humanize or self.tapify:
            inputs[:, d : 2 * d] = 0.0  # velocities
        if self.humanize:
            inputs[:, 2 * d :] = 0.0  # offsets
        return inputs

    def _groove(self, sequence: NoteSequence, tap: bool) -> np.ndarray:
        """Hits, velocities and offsets of the loudest note per step and class (tap: one class, every note)."""
        seq = self.prepare(sequence)
        if tap:
            notes = [(TAP_CLASS, n) for n in seq.notes]
        else:
            drums = [n for n in seq.notes if n.is_drum]
            if seq.notes and not drums:
                raise SequenceError(
                    f"{seq.filename or 'the drum sequence'} has {len(seq.notes)} notes but none "
                    f"marked is_drum (MIDI channel 10); a tap2drum model (tapify) reads any instrument"
                )
            notes = [(self.class_of[n.pitch], n) for n in drums if n.pitch in self.class_of]
        return self._performance(seq, notes, self.num_steps)

    def _performance(self, seq: NoteSequence, notes: list[tuple[int, Any]], num_steps: int) -> np.ndarray:
        """The groove [num_steps, 3 * drums] of (class, note) pairs of the quantised `seq`."""
        chosen: dict[tuple[int, int], Any] = {}
        for c, n in notes:
            key = (n.quantized_start_step, c)
            if key not in chosen or chosen[key].velocity < n.velocity:
                chosen[key] = n
        seconds = step_seconds(qpm_of(seq))
        d = self.num_drums
        out = np.zeros((num_steps, 3 * d), np.float32)
        for (step, c), n in chosen.items():
            out[step, c] = 1.0
            out[step, d + c] = n.velocity / MAX_VELOCITY
            out[step, 2 * d + c] = 2.0 * (step * seconds - n.start_time) / seconds
        return out

    # -- tensors -> NoteSequence ------------------------------------------
    def from_labels(self, labels: np.ndarray, qpm: float = DEFAULT_QPM) -> NoteSequence:
        """Decoder output [steps, 3 * drums] -> an unquantised performance at `qpm`: a note per hit
        over 0.5, velocity round(v * 127), onset moved early by offset / 2 steps (clipped to half a step)."""
        groove = np.asarray(labels, np.float64)
        d = self.num_drums
        if groove.ndim != 2 or groove.shape[1] != 3 * d:
            raise SequenceError(f"a groove must be [steps, {3 * d}], got {list(groove.shape)}")
        seconds = step_seconds(qpm)
        seq = NoteSequence()
        seq.tempos.add(qpm=qpm)
        seq.time_signatures.add(numerator=4, denominator=4)
        steps, classes = np.nonzero(groove[:, :d] > 0.5)  # every hit at once: no numpy call per note
        velocities = np.clip(np.floor(groove[steps, d + classes] * MAX_VELOCITY + 0.5), 0, MAX_VELOCITY)  # JS round
        starts = (steps - np.clip(groove[steps, 2 * d + classes] / 2.0, -0.5, 0.5)) * seconds
        for c, velocity, start in zip(classes.tolist(), velocities.tolist(), starts.tolist()):
            seq.notes.add(
                pitch=self.pitch_classes[c][0],
                velocity=int(velocity),
                start_time=start,
                end_time=start + seconds,
                is_drum=True,
            )
        seq.total_time = len(groove) * seconds
        return seq

    # -- training ---------------------------------------------------------
    def training_windows(self, sequence: NoteSequence, controls: np.ndarray | None = None) -> np.ndarray:
        """Training targets from a whole performance: the groove [n, num_steps, 3 * drums] of every
        window starting on a bar line, one bar apart, with a hit; repeats dropped. The performance
        is quantised at its own tempo, so each onset keeps its offset from the grid. Training makes
        the encoder's inputs from these targets (`objective.encoder_inputs`), as `to_inputs` does
        from a sequence."""
        if controls is not None:
            raise UnsupportedModelError("a GrooVAE takes no controls (hits as controls are not supported)")
        windows = {
            window.tobytes(): window
            for groove in self._tracks(self._quantized(sequence))
            for start in range(0, len(groove) - self.num_steps + 1, STEPS_PER_BAR)
            if self._has_onset(window := groove[start : start + self.num_steps])
        }
        return np.array(list(windows.values()), np.float32).reshape(-1, self.num_steps, self.output_depth)

    def _tracks(self, sequence: NoteSequence) -> list[np.ndarray]:
        """The whole performance's groove, padded to whole bars (one track: the kit)."""
        notes = [(self.class_of[n.pitch], n) for n in sequence.notes if n.is_drum and n.pitch in self.class_of]
        notes = [(c, n) for c, n in notes if n.quantized_start_step >= 0]
        last = max((n.quantized_start_step for _, n in notes), default=-1)
        return [self._performance(sequence, notes, (last // STEPS_PER_BAR + 1) * STEPS_PER_BAR)]

    def _has_onset(self, labels: np.ndarray) -> bool:
        return bool(labels[:, : self.num_drums].any())
