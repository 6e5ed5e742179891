"""Training examples: pieces -> label windows per split (2 or 16 bars, as the
converter says), with a summary of what was used and why the rest was not
("412 files, 398 used, 9 unparsable: ...").

For a chord-conditioned model every window also carries the chord of each
step, as Magenta's converter takes them: the piece's chord symbols where it
has some, else note_seq's chord inference (two chords per 4/4 bar).

Extracted examples are cached under .cache/examples/ (keyed by the sources'
paths, sizes and times and the converter), so resuming or evaluating does not
parse a corpus again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import note_seq
import numpy as np
from note_seq import chords_lib

from hmm_live.errors import ChordError, ConfigError, HmmLiveError
from hmm_live.files import atomic_write
from hmm_live.music.chords import ChordEncoder
from hmm_live.music.converters import DataConverter
from hmm_live.music.sequences import NoteSequence, quantize
from hmm_live.training.sources import SPLITS, Failure, _corpus_paths, read_pieces

CACHE_VERSION = 2


@dataclass
class Report:
    """What happened to every piece of the sources."""

    pieces: int = 0
    used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> first few names
    windows: dict[str, int] = field(default_factory=dict)  # split -> examples

    def skip(self, name: str, reason: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 3:
            self.examples[reason].append(name)

    def summary(self) -> str:
        parts = [f"{self.pieces} pieces, {self.used} used"]
        for reason, count in self.skipped.most_common():
            parts.append(
                f"{count} {reason}: {', '.join(map(str, self.examples[reason]))}"
                + (", ..." if count > len(self.examples[reason]) else "")
            )
        windows = ", ".join(f"{n} {split}" for split, n in self.windows.items())
        return "; ".join(parts) + f" -> examples: {windows}"

    def to_json(self) -> dict:
        return {
            "pieces": self.pieces,
            "used": self.used,
            "skipped": dict(self.skipped),
            "skipped_examples": self.examples,
            "examples": self.windows,
        }

    @classmethod
    def from_json(cls, data: dict) -> Report:
        return cls(data["pieces"], data["used"], Counter(data["skipped"]), data["skipped_examples"], data["examples"])


def extract(
    sources: Iterable[str | Path],
    converter: DataConverter,
    cache: Path | None = None,
    chords: ChordEncoder | None = None,
) -> tuple[dict[str, np.ndarray], Report]:
    """Labels [n, num_steps] per split ("train", "validation", "test"), and the report.

    With `chords` (the model's chord encoder), also "<split>_chords": each step's
    chord, [n, num_steps] indices into "chord_symbols" (strings such as "Am" or
    "N.C."); a piece with a chord the encoder cannot encode is skipped, as in Magenta."""
    paths = [str(s) for s in sources]
    if not paths:
        raise ConfigError("no training sources given")
    cache_file = cache / f"{_fingerprint(paths, converter, chords.name if chords else None)}.npz" if cache else None
    if cache_file and cache_file.exists():
        with np.load(cache_file, allow_pickle=False) as data:
            report = Report.from_json(json.loads(str(data["report"])))
            return {k: data[k] for k in data.files if k != "report"}, report
    report = Report()
    found: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    symbols: dict[str, int] = {}  # chord symbol -> its index
    for piece in read_pieces(paths):
        report.pieces += 1
        if isinstance(piece, Failure):
            report.skip(piece.name, piece.reason)
            continue
        reason = _unusable(piece.sequence, converter)
        if reason is None:
            try:
                steps = _chord_indices(piece.sequence, symbols, chords) if chords else None
                windows = converter.training_windows(piece.sequence, steps)
            except ChordError as e:  # chords that cannot be found or encoded: the message says which
                reason = str(e)
            except HmmLiveError as e:
                reason = "no 4/4 bars" if "4/4" in str(e) or "time signature" in str(e) else "unusable"
            else:
                reason = None if len(windows) else f"no usable {converter.num_bars}-bar window"
        if reason:
            report.skip(piece.name, reason)
            continue
        report.used += 1
        found[piece.split].append(windows)  # deduplicated per piece, as Magenta does
    width = converter.num_steps * (2 if chords else 1)
    empty = np.zeros((0, width, converter.output_depth) if converter.continuous else (0, width))
    dtype = np.float32 if converter.continuous else np.int16  # a GrooVAE's grooves, or classes
    rows = {s: np.concatenate(found[s] or [empty]).astype(dtype) for s in SPLITS}
    splits = {s: rows[s][:, : converter.num_steps] for s in SPLITS}
    if chords:
        splits |= {f"{s}_chords": rows[s][:, converter.num_steps :] for s in SPLITS}
        splits["chord_symbols"] = np.array(list(symbols), dtype=str).reshape(-1)
    report.windows = {s: len(splits[s]) for s in SPLITS}
    if cache_file:
        with atomic_write(cache_file) as f:
            np.savez_compressed(f, report=json.dumps(report.to_json()), **splits)  # type: ignore[arg-type]  # numpy's stub lets **splits fill allow_pickle
    return splits, report


def _chord_indices(sequence: NoteSequence, symbols: dict[str, int], encoder: ChordEncoder) -> np.ndarray:
    """Each step's chord as an index into `symbols` (new symbols are added): the piece's
    own chord symbols, else those note_seq infers, as Magenta's converter does; a ChordError
    saying why the piece has none to give."""
    seq = NoteSequence()
    seq.CopyFrom(quantize(sequence))  # inference writes into the sequence
    if not any(a.annotation_type == chords_lib.CHORD_SYMBOL for a in seq.text_annotations):
        try:
            note_seq.infer_chords_for_sequence(seq)
        except note_seq.ChordInferenceError:
            raise ChordError("no chords inferred") from None
    progression = chords_lib.ChordProgression()
    try:
        progression.from_quantized_sequence(seq, 0, max(seq.total_quantized_steps, 1))
    except chords_lib.CoincidentChordsError:
        raise ChordError("coincident chords") from None
    for chord in set(progression) - set(symbols):
        try:
            encoder.encode(chord)
        except ChordError:
            raise ChordError(f"chords {encoder.name} cannot encode") from None
    return np.array([symbols.setdefault(chord, len(symbols)) for chord in progression], np.int64)


def _unusable(sequence, converter: DataConverter) -> str | None:
    if not sequence.notes:
        return "no notes"
    drums = sum(n.is_drum for n in sequence.notes)
    if converter.js_type == "MelodyConverter" and drums == len(sequence.notes):
        return "only percussion"
    if converter.js_type != "MelodyConverter" and not drums:
        return "no percussion"
    return None


def _fingerprint(sources: list[str], converter: DataConverter, chords: str | None) -> str:
    """Changes when a source file, the converter or the extraction code changes."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, converter.spec(), chords, sources]).encode())
    for source in sources:
        path = Path(source)
        files = sorted(path.rglob("*")) if path.is_dir() else [path] if path.exists() else _corpus_paths(source)
        for f in files:
            if f.is_file():
                st = os.stat(f)
                h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]
