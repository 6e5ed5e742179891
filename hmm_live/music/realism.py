"""Does generated music look like the data? Yang & Lerch (2018)-style realism, and how evenly a morph moves.

The definitions of `../shared/notes/music-evaluation.md`: features per 2-bar
window (scalars such as pitch count or note count, and histograms such as
pitch classes), then a generated set is compared with held-out data: the
overlapping area of the two Gaussian-KDE densities for each scalar, the
intersection of the aggregate normalised histograms for each histogram (both
0..1, 1 = alike). Drums have their own features (hits per bar, overall and
per instrument class) and two rates (kick on the downbeats, snare on the
backbeats) compared as plain differences.

A number alone says little, so `Reference` keeps a ceiling: one half of the
held-out windows against the other half, and every score comes with its
ratio to that ceiling. `hmm-live eval` and `bench/music.py` both use this.
Windows are notes arrays `[n, 3]` (pitch, start step, end step), as in
`relatedness.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from hmm_live.music.converters import DataConverter
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.relatedness import KICK, SNARE, Notes, notes_of
from hmm_live.music.sequences import STEPS_PER_BAR

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)
# rows: the 12 major then the 12 harmonic-minor scales, as pitch-class masks
_SCALES = np.array(
    [
        [(pc - root) % 12 in scale for pc in range(12)]
        for scale in (MAJOR_SCALE, HARMONIC_MINOR_SCALE)
        for root in range(12)
    ],
    np.float64,
)
MAX_INTERVAL = 12  # intervals are clipped to -12..12
# note lengths in 16th steps: 1..8 one bin each, then 9-11, 12, 13-15, 16, 17+ (bins start at these)
LENGTH_BINS = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17])
DRUM_CLASSES = ("kick", "snare", "closed_hihat", "open_hihat", "low_tom", "mid_tom", "high_tom", "crash", "ride")
BACKBEATS = (4, 12)  # beats 2 and 4 of a bar
KDE_GRID = 2048


@dataclass
class Features:
    """The features of a set of windows."""

    scalars: dict[str, np.ndarray]  # one value per window (or bar), NaN where undefined
    histograms: dict[str, np.ndarray]  # counts summed over the set
    rates: dict[str, float | None]  # drums: share of downbeats with a kick, of backbeats with a snare


def melody_features(windows: Sequence[Notes], steps: int) -> Features:
    """Pitch count, pitch range, note count, mean inter-onset interval, silent-step fraction
    and scale fit per window; pitch-class, interval and note-length histograms."""
    rows, pitch_classes = [], np.zeros(12)
    intervals, lengths = np.zeros(2 * MAX_INTERVAL + 1), np.zeros(len(LENGTH_BINS))
    for notes in windows:
        notes = notes[np.lexsort((-notes[:, 0], notes[:, 1]))]  # by onset
        pitch, start, end = notes.T
        counts = np.bincount(pitch % 12, minlength=12)
        sounding = np.zeros(steps, bool)
        for s, e in zip(start, end):
            sounding[s : max(e, s + 1)] = True
        empty = not len(notes)
        onsets = np.unique(start)
        rows.append(
            (
                len(np.unique(pitch)),
                np.nan if empty else np.ptp(pitch),
                len(notes),
                np.diff(onsets).mean() if len(onsets) > 1 else np.nan,
                1.0 - sounding.mean(),
                np.nan if empty else (_SCALES @ counts).max() / len(notes),
            )
        )
        pitch_classes += counts
        intervals += np.bincount(
            np.clip(np.diff(pitch), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL, minlength=len(intervals)
        )
        lengths += np.bincount(
            np.searchsorted(LENGTH_BINS, np.maximum(end - start, 1), side="right") - 1, minlength=len(lengths)
        )
    names = ("pitch_count", "pitch_range", "note_count", "mean_ioi", "silent_steps", "scale_fit")
    columns = np.array(rows, np.float64).reshape(-1, len(names)).T
    return Features(
        dict(zip(names, columns)), {"pitch_class": pitch_classes, "interval": intervals, "note_length": lengths}, {}
    )


def drum_features(windows: Sequence[Notes], steps: int, class_of: dict[int, int]) -> Features:
    """Hits per bar, overall and per instrument class (Magenta's 9), and the share of
    downbeats with a kick and of backbeats with a snare. Pitches outside `class_of` are ignored."""
    bars = steps // STEPS_PER_BAR
    grids = np.zeros((len(windows), bars, STEPS_PER_BAR, len(DRUM_CLASSES)), bool)
    for i, notes in enumerate(windows):
        for pitch, start, _ in notes:
            if pitch in class_of and start < steps:
                grids[i, start // STEPS_PER_BAR, start % STEPS_PER_BAR, class_of[pitch]] = True
    per_bar = grids.reshape(-1, STEPS_PER_BAR, len(DRUM_CLASSES))  # [bars, steps, classes]
    hits = per_bar.sum(axis=1).astype(np.float64)  # [bars, classes]
    scalars = {
        "hits_per_bar": hits.sum(axis=1),
        **{f"hits_per_bar_{name}": hits[:, c] for c, name in enumerate(DRUM_CLASSES)},
    }
    rates = {"kick_on_downbeats": _mean(per_bar[:, 0, KICK]), "snare_on_backbeats": _mean(per_bar[:, BACKBEATS, SNARE])}
    return Features(scalars, {}, rates)


def windows_of(converter: DataConverter, labels: np.ndarray) -> list[Notes]:
    """Label windows [n, num_steps] of a model -> their notes."""
    return [notes_of(converter.from_labels(row)) for row in np.asarray(labels)]


def features(converter: DataConverter, windows: Sequence[Notes]) -> Features:
    """The features of windows of a melody or drum model."""
    if isinstance(converter, DrumsConverter):
        return drum_features(windows, converter.num_steps, converter.class_of)
    return melody_features(windows, converter.num_steps)


def overlapping_area(a: np.ndarray, b: np.ndarray) -> float | None:
    """Overlap (0..1) of the Gaussian KDEs of two samples (NaN ignored); None when both are empty.

    Bandwidths follow Scott's rule per sample. A sample with no spread (every
    window alike) gets a tenth of the pooled spread, so two identical constant
    samples overlap fully and two different ones hardly at all.
    """
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return None if not len(a) and not len(b) else 0.0
    pooled = np.concatenate([a, b]).std()
    if pooled == 0:
        return 1.0
    widths = [max(x.std(ddof=1) if len(x) > 1 else 0.0, 0.1 * pooled) * len(x) ** -0.2 for x in (a, b)]
    grid = np.linspace(min(a.min(), b.min()) - 4 * max(widths), max(a.max(), b.max()) + 4 * max(widths), KDE_GRID)
    density_a, density_b = (_kde(x, w, grid) for x, w in zip((a, b), widths))
    return float(min(1.0, np.trapezoid(np.minimum(density_a, density_b), grid)))


def histogram_intersection(a: np.ndarray, b: np.ndarray) -> float | None:
    """Shared mass (0..1) of two histograms, each normalised; None when both are empty."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not a.sum() or not b.sum():
        return None if not a.sum() and not b.sum() else 0.0
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


def compare(generated: Features, reference: Features) -> dict[str, Any]:
    """A generated set against a reference: under "similarity" each scalar's overlapping area and
    each histogram's intersection (0..1); under "rates" (drums) the generated set's rates and their
    difference from the reference's."""
    similarity = {name: overlapping_area(values, reference.scalars[name]) for name, values in generated.scalars.items()}
    similarity |= {
        f"{name}_histogram": histogram_intersection(counts, reference.histograms[name])
        for name, counts in generated.histograms.items()
    }
    out: dict[str, Any] = {"similarity": similarity}
    if generated.rates:
        out["rates"] = {
            name: {"value": value, "difference": _difference(value, reference.rates[name])}
            for name, value in generated.rates.items()
        }
    return out


def halves(labels: np.ndarray, blocks: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Held-out windows in two halves of contiguous blocks taken in turn.

    The windows of one piece come together (as `hmm_live.training.extract`
    gives them), so blocks keep most tunes on one side, and taking blocks in
    turn mixes the collections.
    """
    labels = np.asarray(labels)
    block = np.arange(len(labels)) * min(blocks, len(labels)) // max(len(labels), 1)
    return labels[block % 2 == 0], labels[block % 2 == 1]


class Reference:
    """Held-out windows in two `halves`: `other` to compare against, `half` to measure the ceiling.

    A generated set should have `size` windows, like the ceiling's half.
    """

    def __init__(self, converter: DataConverter, labels: np.ndarray):
        self.half, self.other = halves(labels)
        self.converter = converter
        self.features = features(converter, windows_of(converter, self.other))
        self.ceiling = compare(features(converter, windows_of(converter, self.half)), self.features)

    @property
    def size(self) -> int:
        return len(self.half)

    def score(self, windows: Sequence[Notes]) -> dict[str, Any]:
        """compare() of generated windows, with each similarity's ratio to the ceiling and the lowest ratio."""
        result = compare(features(self.converter, windows), self.features)
        ceiling = self.ceiling["similarity"]
        ratios = {
            name: value / ceiling[name]
            for name, value in result["similarity"].items()
            if value is not None and ceiling[name]
        }
        return {**result, "ratio_to_ceiling": ratios, "min_ratio_to_ceiling": min(ratios.values(), default=None)}


def random_pitches(windows: Sequence[Notes], pitches: Sequence[int], rng: np.random.Generator) -> list[Notes]:
    """The baseline "random pitches on real rhythms": every note keeps its steps, its pitch is drawn
    from `pitches` (notes sharing an onset get different ones, so drum hits keep their number)."""
    choices, out = np.asarray(pitches), []
    for window in windows:
        notes = np.array(window, copy=True)
        for start in np.unique(notes[:, 1]):
            at = np.flatnonzero(notes[:, 1] == start)
            notes[at, 0] = rng.choice(choices, len(at), replace=len(at) > len(choices))
        out.append(notes)
    return out


def notes_changed(a: Notes, b: Notes) -> int:
    """How many notes (pitch, start, end) one step of a morph removes or adds."""
    return len(set(map(tuple, a.tolist())) ^ set(map(tuple, b.tolist())))


def morph_smoothness(steps: Sequence[Notes]) -> tuple[list[int], float | None]:
    """Notes changed between neighbouring steps of an interpolation, and the largest change's share
    of the total (an even morph of 6 steps: ~17%; None when nothing changes)."""
    changes = [notes_changed(a, b) for a, b in pairwise(steps)]
    total = sum(changes)
    return changes, max(changes) / total if total else None


def _kde(x: np.ndarray, width: float, grid: np.ndarray) -> np.ndarray:
    z = (grid[:, None] - x[None, :]) / width
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(x) * width * np.sqrt(2 * np.pi))


def _mean(flags: np.ndarray) -> float | None:
    return float(flags.mean()) if flags.size else None


def _difference(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else value - reference
