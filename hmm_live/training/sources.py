"""Where training music comes from: MIDI folders and files, and music21's corpus.

Each source yields `Piece`s (one NoteSequence each, with a group that keeps
versions of one tune on one side of the train/test split) or `Failure`s, so a
bad file is counted and reported, never fatal. A folder holding an `info.csv`
with `midi_filename` and `split` columns (the Groove MIDI Dataset's layout)
uses that split.
"""

from __future__ import annotations

import csv
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from note_seq.chords_lib import CHORD_SYMBOL

from hmm_live.errors import ConfigError, HmmLiveError
from hmm_live.music.sequences import DEFAULT_QPM, NoteSequence, read_midi

SPLITS = ("train", "validation", "test")
MIDI_SUFFIXES = {".mid", ".midi", ".kar"}


@dataclass
class Piece:
    name: str
    group: str  # pieces of one group share a split
    split: str  # train, validation or test
    sequence: NoteSequence


@dataclass
class Failure:
    name: str
    reason: str  # short and countable: "unparsable", "no 4/4 bars", ...
    detail: str


def read_pieces(sources: Iterable[str | Path]) -> Iterator[Piece | Failure]:
    """Pieces from folders (recursive), MIDI files and music21 corpus collection names."""
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from _folder(path)
        elif path.is_file():
            yield from _midi_files([path], {})
        elif _is_corpus_name(str(source)):
            yield from _corpus(str(source))
        else:
            raise ConfigError(
                f"training source {source} is neither a file, a folder nor a "
                f"music21 corpus collection (e.g. oneills1850)"
            )


def split_of(group: str) -> str:
    """A stable 80/10/10 split by a hash of the group name (a tune's title)."""
    bucket = zlib.crc32(group.encode()) % 10
    return "test" if bucket == 9 else "validation" if bucket == 8 else "train"


def _folder(folder: Path) -> Iterator[Piece | Failure]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f"training folder {folder} holds no MIDI files (*.mid, *.midi)")
    yield from _midi_files(files, _csv_splits(folder))


def _csv_splits(folder: Path) -> dict[Path, str]:
    info = folder / "info.csv"
    if not info.exists():
        return {}
    try:
        with info.open(newline="") as f:
            rows = list(csv.DictReader(f))
        return {(folder / r["midi_filename"]).resolve(): r["split"] for r in rows if r["split"] in SPLITS}
    except (OSError, KeyError, csv.Error) as e:
        raise ConfigError(f"{info} should be a CSV with midi_filename and split columns: {e}") from None


def _midi_files(files: list[Path], splits: dict[Path, str]) -> Iterator[Piece | Failure]:
    for path in files:
        try:
            seq = read_midi(path)
        except HmmLiveError as e:
            yield Failure(str(path), "unparsable", str(e))
            continue
        split = splits.get(path.resolve()) or split_of(path.stem)
        yield Piece(str(path), path.stem, split, seq)


def _is_corpus_name(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_]+", name) is not None and bool(_corpus_paths(name))


def _corpus_paths(name: str) -> list[Path]:
    from music21 import corpus

    return sorted(p for p in map(Path, corpus.getPaths()) if name in p.parts)


def _corpus(name: str) -> Iterator[Piece | Failure]:
    """Every tune of a music21 corpus collection; groups are normalised titles, so
    one tune printed in two books lands on one side of the split."""
    from music21 import converter, stream

    for path in _corpus_paths(name):
        try:
            parsed = converter.parse(path)
        except Exception as e:  # music21 raises many kinds on malformed files
            yield Failure(str(path), "unparsable", f"music21 cannot parse {path}: {e}")
            continue
        scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        for i, score in enumerate(scores):
            title = (score.metadata.title if score.metadata else None) or f"{path.stem} {i}"
            tune = f"{name}/{path.stem}#{i + 1} {title}"
            try:
                seq = music21_to_sequence(score, tune)
            except HmmLiveError as e:
                yield Failure(tune, "no 4/4 bars", str(e))
                continue
            except Exception as e:  # music21 trips on some malformed tunes
                yield Failure(tune, "unparsable", f"music21 cannot read {tune}: {e}")
                continue
            group = re.sub(r"[^a-z0-9]", "", title.lower()) or tune
            yield Piece(tune, group, split_of(group), seq)


def music21_to_sequence(score, name: str) -> NoteSequence:
    """A music21 score's whole 4/4 bars as a NoteSequence (first part; ties merged),
    with its chord symbols ("Am" in ABC) as CHORD_SYMBOL annotations.

    Measures that are not whole 4/4 bars (pickups, half bars before repeats,
    other metres) are dropped, and the bars kept are laid end to end, so every
    kept bar starts on the 16-step grid.
    """
    from music21 import harmony, meter

    part = (score.parts[0] if score.parts else score).stripTies()
    seq = NoteSequence(filename=name, ticks_per_quarter=220)
    seq.tempos.add(qpm=DEFAULT_QPM)
    seq.time_signatures.add(numerator=4, denominator=4)
    seconds = 60.0 / DEFAULT_QPM
    bars, metre = 0, None
    for measure in part.getElementsByClass("Measure"):
        metre = measure.timeSignature or metre
        if metre is None or metre.barDuration.quarterLength != 4.0 or measure.duration.quarterLength != 4.0:
            continue
        if not isinstance(metre, meter.TimeSignature) or metre.denominator not in (2, 4):
            continue
        for note in measure.recurse().notes:
            start = 4.0 * bars + float(note.getOffsetInHierarchy(measure))
            if isinstance(note, harmony.ChordSymbol):
                seq.text_annotations.add(time=start * seconds, text=note.figure, annotation_type=CHORD_SYMBOL)
                continue
            length = float(note.duration.quarterLength)
            if length <= 0:  # grace notes
                continue
            for pitch in note.pitches:
                seq.notes.add(
                    pitch=pitch.midi, velocity=80, start_time=start * seconds, end_time=(start + length) * seconds
                )
        bars += 1
    if not bars:
        raise ConfigError(f"{name} has no whole 4/4 bars")
    seq.total_time = 4.0 * bars * seconds
    return seq
