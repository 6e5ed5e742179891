"""How an answer relates to the bar it answers: key, pitch classes, rhythm, echo.

The measures of `../shared/notes/music-evaluation.md` and of the "listen"
answers (docs/answers.md), on quantised notes; drum answers have their own
(`drum_relatedness`: a drum kit has no key or pitch classes). The live engine uses them to
pick the best of several decoded candidates, and `bench/music.py` to score
answers; both read the same definitions from here.

A bar is a NoteSequence or an array of notes `[n, 3]` (pitch, start step,
end step): the live path converts once and then scores arrays, which is fast.
"""

from __future__ import annotations

import numpy as np

from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence

# Krumhansl-Kessler key profiles, C major and C minor
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# the 24 rotated profiles, centred for correlation: rows 0..11 major on C..B, 12..23 minor
_PROFILES = np.stack([np.roll(p, k) for p in (MAJOR, MINOR) for k in range(12)])
_PROFILES = _PROFILES - _PROFILES.mean(axis=1, keepdims=True)
_PROFILES /= np.linalg.norm(_PROFILES, axis=1, keepdims=True)

Notes = np.ndarray  # [n, 3] int: pitch, start step, end step
KICK, SNARE = 0, 1  # Magenta's drum classes (hmm_live.music.drums)


def notes_of(bar: NoteSequence | np.ndarray) -> Notes:
    """A quantised NoteSequence (or notes already) -> int array [n, 3] of (pitch, start, end)."""
    if isinstance(bar, np.ndarray):
        return bar.reshape(-1, 3).astype(np.int64)
    return np.array([(n.pitch, n.quantized_start_step, n.quantized_end_step) for n in bar.notes], np.int64).reshape(
        -1, 3
    )


def pitch_class_histogram(notes: Notes) -> np.ndarray:
    """Duration-weighted pitch-class histogram [12] (not normalised)."""
    durations = np.maximum(notes[:, 2] - notes[:, 1], 1)
    return np.bincount(notes[:, 0] % 12, weights=durations, minlength=12).astype(np.float64)


def key(notes: Notes) -> tuple[int, str] | None:
    """Krumhansl-Schmuckler key as (tonic pitch class, "major" | "minor"); None for an empty bar."""
    histogram = pitch_class_histogram(notes)
    if not histogram.any():
        return None
    best = int(np.argmax(_PROFILES @ _centred(histogram)))
    return best % 12, "major" if best < 12 else "minor"


def pitch_class_cosine(a: Notes, b: Notes) -> float:
    return _cosine(pitch_class_histogram(a), pitch_class_histogram(b))


def onset_jaccard(a: Notes, b: Notes) -> float:
    """|onset steps in both| / |onset steps in either| (1.0 for two empty bars)."""
    sa, sb = set(a[:, 1].tolist()), set(b[:, 1].tolist())
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def echo_f1(played: Notes, answer: Notes) -> float:
    """F1 of the (onset, pitch) pairs: 1.0 is a copy of what was played."""
    sa = set(zip(played[:, 1].tolist(), played[:, 0].tolist()))
    sb = set(zip(answer[:, 1].tolist(), answer[:, 0].tolist()))
    return 2 * len(sa & sb) / (len(sa) + len(sb)) if sa or sb else 1.0


def same_tonic(a: Notes, b: Notes) -> bool:
    ka, kb = key(a), key(b)
    return ka is not None and kb is not None and ka[0] == kb[0]


def relatedness(played: NoteSequence | Notes, answer: NoteSequence | Notes) -> dict[str, float]:
    """The four measures of an answer against the bar played."""
    a, b = notes_of(played), notes_of(answer)
    return {
        "pitch_class_cosine": pitch_class_cosine(a, b),
        "onset_jaccard": onset_jaccard(a, b),
        "same_tonic": float(same_tonic(a, b)),
        "echo_f1": echo_f1(a, b),
    }


def drum_relatedness(played: NoteSequence | Notes, answer: NoteSequence | Notes, class_of: dict[int, int]) -> dict:
    """How a drum answer relates to the drum bar played, on hits of Magenta's drum classes (the
    pitches `class_of` maps; others ignored): onset Jaccard; the answer's hits minus the bar's;
    the Jaccard of the kicks' steps and of the snares' (where the groove's weight falls; 1.0
    when neither has one); echo F1 of the (step, class) hits (1.0: a copy)."""
    a, b = _drum_hits(notes_of(played), class_of), _drum_hits(notes_of(answer), class_of)
    return {
        "onset_jaccard": _jaccard({s for s, _ in a}, {s for s, _ in b}),
        "hits_difference": float(len(b) - len(a)),
        "kick_jaccard": _jaccard({s for s, c in a if c == KICK}, {s for s, c in b if c == KICK}),
        "snare_jaccard": _jaccard({s for s, c in a if c == SNARE}, {s for s, c in b if c == SNARE}),
        "echo_f1": 2 * len(a & b) / (len(a) + len(b)) if a or b else 1.0,
    }


def _drum_hits(notes: Notes, class_of: dict[int, int]) -> set[tuple[int, int]]:
    """The (step, class) of each hit in the first bar."""
    return {
        (start, class_of[pitch]) for pitch, start, _ in notes.tolist() if pitch in class_of and start < STEPS_PER_BAR
    }


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _centred(histogram: np.ndarray) -> np.ndarray:
    centred = histogram - histogram.mean()
    norm = np.linalg.norm(centred)
    return centred / norm if norm > 0 else centred


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norms) if norms > 0 else 0.0
