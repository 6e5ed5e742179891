"""Training examples: pieces -> 2-bar label windows per split, with a summary of
what was used and why the rest was not ("412 files, 398 used, 9 unparsable: ...").

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

import numpy as np

from hmm_live.errors import ConfigError, HmmLiveError
from hmm_live.files import atomic_write
from hmm_live.music.converters import DataConverter
from hmm_live.training.sources import SPLITS, Failure, _corpus_paths, read_pieces

CACHE_VERSION = 1


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
    sources: Iterable[str | Path], converter: DataConverter, cache: Path | None = None
) -> tuple[dict[str, np.ndarray], Report]:
    """Labels [n, num_steps] per split ("train", "validation", "test"), and the report."""
    paths = [str(s) for s in sources]
    if not paths:
        raise ConfigError("no training sources given")
    cache_file = cache / f"{_fingerprint(paths, converter)}.npz" if cache else None
    if cache_file and cache_file.exists():
        with np.load(cache_file, allow_pickle=False) as data:
            return ({s: data[s] for s in SPLITS}, Report.from_json(json.loads(str(data["report"]))))
    report = Report()
    found: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for piece in read_pieces(paths):
        report.pieces += 1
        if isinstance(piece, Failure):
            report.skip(piece.name, piece.reason)
            continue
        reason = _unusable(piece.sequence, converter)
        if reason is None:
            try:
                windows = converter.training_windows(piece.sequence)
            except HmmLiveError as e:
                reason = "no 4/4 bars" if "4/4" in str(e) or "time signature" in str(e) else "unusable"
            else:
                reason = None if len(windows) else "no usable 2-bar window"
        if reason:
            report.skip(piece.name, reason)
            continue
        report.used += 1
        found[piece.split].append(windows)  # deduplicated per piece, as Magenta does
    splits = {s: np.concatenate(found[s] or [np.zeros((0, converter.num_steps))]).astype(np.int16) for s in SPLITS}
    report.windows = {s: len(v) for s, v in splits.items()}
    if cache_file:
        with atomic_write(cache_file) as f:
            np.savez_compressed(f, report=json.dumps(report.to_json()), **splits)  # type: ignore[arg-type]  # numpy's stub lets **splits fill allow_pickle
    return splits, report


def _unusable(sequence, converter: DataConverter) -> str | None:
    if not sequence.notes:
        return "no notes"
    drums = sum(n.is_drum for n in sequence.notes)
    if converter.js_type == "MelodyConverter" and drums == len(sequence.notes):
        return "only percussion"
    if converter.js_type != "MelodyConverter" and not drums:
        return "no percussion"
    return None


def _fingerprint(sources: list[str], converter: DataConverter) -> str:
    """Changes when a source file, the converter or the extraction code changes."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, converter.spec(), sources]).encode())
    for source in sources:
        path = Path(source)
        files = sorted(path.rglob("*")) if path.is_dir() else [path] if path.exists() else _corpus_paths(source)
        for f in files:
            if f.is_file():
                st = os.stat(f)
                h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]
