"""Re-makes checkpoints/jam_groove/clips.mid and unseen.mid from the Groove MIDI Dataset.

The drum jam's clips (16 two-bar phrases of *train* performances) and its
held-out bars (48 bars of *test* performances, never trained on). Performances
are the dataset's 4/4 "beat" recordings (not the one-bar fills), picked one
style at a time: the styles by how many recordings of them the split has (most
first, ties by name), the first recording of each style in info.csv's order,
round and round until enough are picked. Each is read with hmm_live's MIDI
reader (what `hmm-live train-musicvae` reads it with), quantised to 16ths, and
cut at its first phrase whose every bar has at least MIN_HITS hits of Magenta's
drum classes. Notes keep their pitches and velocities; the phrases are laid
one after another at 120 BPM on MIDI channel 10, each behind a marker naming
its recording, so the clips are named after it. It needs the dataset at
../shared/data/groove (or the folder given); the files it writes do not:

    .venv/bin/python checkpoints/jam_groove/make.py [GROOVE_FOLDER]
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

import mido

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from hmm_live.music.drums import DrumsConverter  # noqa: E402
from hmm_live.music.sequences import (  # noqa: E402
    STEPS_PER_BAR,
    BarSlicer,
    NoteSequence,
    from_notes,
    quantize,
    read_midi,
    write_midi,
)

GROOVE = HERE.parents[2] / "shared" / "data" / "groove"
MIN_HITS = 8  # per bar: a groove, not a count-in or a break
SETS = {  # file -> (split, recordings, bars of each)
    "clips.mid": ("train", 16, 2),
    "unseen.mid": ("test", 12, 4),
}


def recordings(rows: list[dict[str, str]], split: str, count: int) -> list[dict[str, str]]:
    """`count` 4/4 beats of `split`, one style at a time (most recorded style first)."""
    beats = [r for r in rows if r["split"] == split and r["beat_type"] == "beat" and r["time_signature"] == "4-4"]
    by_style: dict[str, list[dict[str, str]]] = {}
    for row in beats:
        by_style.setdefault(row["style"].split("/")[0], []).append(row)
    order = sorted(by_style, key=lambda s: (-len(by_style[s]), s))
    picked: list[dict[str, str]] = []
    while len(picked) < count:
        for style in order:
            if by_style[style] and len(picked) < count:
                picked.append(by_style[style].pop(0))
    return picked


def phrase(sequence: NoteSequence, bars: int, class_of: dict[int, int]) -> tuple[int, NoteSequence] | None:
    """The first `bars`-bar phrase whose every bar has MIN_HITS drum hits, and its first bar."""
    slicer = BarSlicer(quantize(sequence))
    for start in range(slicer.num_bars - bars + 1):
        cut = slicer.slice(start, bars)
        hits = Counter(n.quantized_start_step // STEPS_PER_BAR for n in cut.notes if n.pitch in class_of)
        if all(hits[b] >= MIN_HITS for b in range(bars)):
            return start, cut
    return None


def make(groove: Path, name: str) -> Path:
    split, count, bars = SETS[name]
    with (groove / "info.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    class_of = DrumsConverter().class_of
    laid: list[tuple[int, int, int, int]] = []  # pitch, start, end, velocity
    marks: list[tuple[int, str]] = []
    for row in recordings(rows, split, count):
        found = phrase(read_midi(groove / row["midi_filename"]), bars, class_of)
        if found is None:
            raise SystemExit(f"{row['midi_filename']} has no {bars}-bar phrase of {MIN_HITS} hits a bar")
        start, cut = found
        offset = len(marks) * bars * STEPS_PER_BAR
        marks.append((offset, f"{row['style']} ({row['id']})"))
        print(f"{name}: {row['midi_filename']}, bars {start + 1}-{start + bars}")
        laid += [
            (n.pitch, offset + n.quantized_start_step, offset + n.quantized_end_step, n.velocity) for n in cut.notes
        ]
    sequence = from_notes([n[:3] for n in laid], len(marks) * bars * STEPS_PER_BAR, is_drum=True)
    for note, (*_, velocity) in zip(sequence.notes, laid):
        note.velocity = velocity
    path = write_midi(sequence, HERE / name)
    add_markers(path, marks)
    return path


def add_markers(path: Path, marks: list[tuple[int, str]]) -> None:
    """Marker events at the phrases' first steps (the note writer has none)."""
    midi = mido.MidiFile(path)
    ticks_per_step = midi.ticks_per_beat // 4
    track, absolute = midi.tracks[0], []
    tick = 0
    for message in track:
        tick += message.time
        absolute.append((tick, message))
    absolute += [(step * ticks_per_step, mido.MetaMessage("marker", text=text)) for step, text in marks]
    absolute.sort(key=lambda e: (e[0], e[1].type != "marker", e[1].type == "end_of_track"))
    track.clear()
    tick = 0
    for at, message in absolute:
        track.append(message.copy(time=at - tick))
        tick = at
    midi.save(path)


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else GROOVE
    for name in SETS:
        print(make(folder, name))
