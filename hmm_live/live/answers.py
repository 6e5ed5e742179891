"""How the machine answers one bar: from what was just played *and* from the performer's subspace.

Two designs, selectable (`ANSWERS`):
- "listen" (the default): the played bar's own MusicVAE code is blended
  (spherically) towards the subspace point the Responder places it at, by
  `lead` (0: a variation of what was played, 1: the subspace's own idea).
  Several candidates are decoded around that code in one batch, each is moved
  to the performer's key and register, and the one that fits the bar best
  (same pitch classes, tonic and rhythm) without echoing it is played; drum
  candidates are scored on their onsets, kicks and snares (`drum_fit`).
  Every answer takes the bar's dynamics (`dynamics`): its accents and ghost notes.
- "responder" (the original design): Responder -> subspace point ->
  Subspacer -> MusicVAE decode; the answer knows only where the bar lands
  on the map. "listen" with `lead=1` answers the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmm_live.errors import ConfigError
from hmm_live.limits import whole
from hmm_live.models import MusicVAE, Responder, Subspacer
from hmm_live.models.musicvae.model import slerp
from hmm_live.music.converters import DataConverter
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.melody import MelodyConverter
from hmm_live.music.relatedness import (
    Notes,
    drum_relatedness,
    echo_f1,
    key,
    notes_of,
    onset_jaccard,
    pitch_class_cosine,
    same_tonic,
)
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes, qpm_of, step_seconds

ANSWERS = ("listen", "responder")
MODES = ("continuous", "call_response")  # which bars are answered: each on the next, or N heard then N answered
CANDIDATES = 8  # decoded in one batch: about the cost of one decode
ECHO_LIMIT = 0.5  # above this share of (onset, pitch) pairs in common an answer is a copy
DRUM_ECHO_LIMIT = 0.85  # grooves repeat: a drummer's next bar shares 0.84 of its (step, drum) hits (bench/music.py)


@dataclass(frozen=True)
class Models:
    """What an answer is made with (swapped as a whole by the engine)."""

    musicvae: MusicVAE
    subspacer: Subspacer
    responder: Responder


def check_settings(answers: str = "listen", lead: float = 0.5, mode: str = "continuous", every: int = 1) -> None:
    """Raise ConfigError for an unknown design or mode, a lead outside 0..1 or `every` under one
    bar: the one check of the answer settings, for the engine, the session and the demo."""
    if answers not in ANSWERS:
        raise ConfigError(f"answers must be one of {', '.join(ANSWERS)}, got {answers!r}")
    if not isinstance(lead, (int, float)) or not 0.0 <= lead <= 1.0:
        raise ConfigError(f"lead must be a number from 0 (listen) to 1 (lead), got {lead!r}")
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not whole(every) or every < 1:
        raise ConfigError(f"every must be a whole number of bars >= 1, got {every!r}")


def make_answer(
    models: Models,
    bar: NoteSequence,
    answers: str = "listen",
    lead: float = 0.5,
    temperature: float | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, NoteSequence]:
    """One played bar (16 quantised steps) -> (its subspace point, a one-bar answer).

    An empty bar has nothing to listen to: it gets the subspace's idea."""
    point = models.responder.predict(bar)
    z_map = models.subspacer.decode(point)[0]
    played = notes_of(bar)
    musicvae = models.musicvae
    converter = musicvae.data_converter
    if answers == "responder" or lead >= 1.0 or not len(played):
        answer = musicvae.decode(z_map, temperature, length=STEPS_PER_BAR, seed=seed)[0]
    else:
        drums = isinstance(converter, DrumsConverter) or None  # a drum part, whatever channel it came on
        _, mu, sigma = musicvae.encode([looped(bar, musicvae.num_steps, drums)])
        z = candidate_codes(mu[0], sigma[0], z_map, lead, seed)
        labels = musicvae.decode_labels(z, temperature, length=STEPS_PER_BAR, seed=seed)
        candidates = [notes_of(converter.from_labels(row)) for row in labels]
        answer = choose(played, candidates, converter)
    return point, dynamics(answer, bar, converter.class_of if isinstance(converter, DrumsConverter) else None)


def dynamics(answer: NoteSequence, bar: NoteSequence, class_of: dict[int, int] | None = None) -> NoteSequence:
    """Each answer note as loud as the played note nearest it in time (of the same drum, where that
    drum was played): the answer keeps the bar's accents and ghost notes, not one flat velocity.
    A bar played without velocities leaves the answer as it is."""
    drum_of = class_of or {}
    played = [(n.quantized_start_step, n.velocity, drum_of.get(n.pitch)) for n in bar.notes if n.velocity > 0]
    for note in answer.notes if played else ():
        drum = drum_of.get(note.pitch)
        pool = [p for p in played if drum is not None and p[2] == drum] or played
        note.velocity = min(pool, key=lambda p: (abs(p[0] - note.quantized_start_step), -p[1]))[1]
    return answer


def candidate_codes(mu: np.ndarray, sigma: np.ndarray, z_map: np.ndarray, lead: float, seed: int | None) -> np.ndarray:
    """The blend of the bar's code and its map point, then variations of the bar drawn from its
    own posterior, blended the same way: [CANDIDATES, z_size]."""
    eps = np.random.default_rng(seed).standard_normal((CANDIDATES, mu.size)).astype(np.float32)
    eps[0] = 0.0
    return np.stack([slerp(mu + sigma * e, z_map, lead) for e in eps])


def looped(bar: NoteSequence, steps: int, is_drum: bool | None = None) -> NoteSequence:
    """The bar repeated to fill `steps` (a one-bar phrase, as a 2-bar model hears it). Each note
    keeps its velocity and the time it was played at (a tap's micro-timing, for GrooVAE), moved
    by whole bars; `is_drum` True or False marks every note so (a drum part played on any channel)."""
    qpm = qpm_of(bar)
    bar_seconds = STEPS_PER_BAR * step_seconds(qpm)
    out = from_notes([], steps, qpm=qpm)
    for k in range(steps // STEPS_PER_BAR):
        for n in bar.notes:
            note = out.notes.add()
            note.CopyFrom(n)
            note.quantized_start_step += k * STEPS_PER_BAR
            note.quantized_end_step += k * STEPS_PER_BAR
            note.start_time += k * bar_seconds
            note.end_time += k * bar_seconds
            note.is_drum = n.is_drum if is_drum is None else is_drum
    return out


def choose(played: Notes, candidates: list[Notes], converter: DataConverter) -> NoteSequence:
    """The candidate that fits the bar best: same pitch classes, tonic and onsets, without
    echoing it. Melodies may first move to the bar's key (the shift that puts the
    candidate's tonic on the bar's) and, by octaves, to its register.

    Score: pitch-class cosine + onset Jaccard + 0.5 for the same tonic, minus 4 x the
    echo F1 beyond ECHO_LIMIT (a copy loses to any fair variation), and a little for
    each place down the list (the blend itself is preferred to its variations).
    Drums are scored on their own terms (`drum_fit`) and answered as a drum part (channel 10)."""
    if isinstance(converter, DrumsConverter):
        scored = [
            (drum_fit(played, n, converter) - 0.02 * order, order) for order, n in enumerate(candidates) if len(n)
        ]
        hits = candidates[max(scored)[1]].tolist() if scored else []
        return from_notes(hits, STEPS_PER_BAR, is_drum=True)
    melody = converter if isinstance(converter, MelodyConverter) else None  # only a melody has a key to move to
    played_key = key(played)
    best, best_score = None, -np.inf
    for order, notes in enumerate(candidates):
        if not len(notes):
            continue
        shifts = {0}
        if melody and played_key and (notes_key := key(notes)):  # a drum kit has no key to move to
            shifts.add((played_key[0] - notes_key[0] + 6) % 12 - 6)
        for shift in shifts:
            moved = notes + np.array([_register(played, notes, shift, melody) if melody else 0, 0, 0])
            tonic = melody is not None and same_tonic(played, moved)
            echo = max(0.0, echo_f1(played, moved) - ECHO_LIMIT)
            score = (
                pitch_class_cosine(played, moved)
                + onset_jaccard(played, moved)
                + 0.5 * tonic
                - 4.0 * echo
                - 0.02 * order
            )
            if score > best_score:
                best, best_score = moved, score
    return from_notes([] if best is None else best.tolist(), STEPS_PER_BAR)


def drum_fit(played: Notes, candidate: Notes, converter: DrumsConverter) -> float:
    """How well a drum candidate answers the bar: its onsets, and its kicks and snares (the groove's
    skeleton) where the bar had them, about as many hits, and no more of a copy than a drummer's own
    next bar is (DRUM_ECHO_LIMIT). Scored as melodies are, drum answers kept the bar's busyness
    but lost its kicks and snares (docs/benchmarks.md: the drum jam)."""
    r = drum_relatedness(played, candidate, converter.class_of)
    return (
        r["onset_jaccard"]
        + r["kick_jaccard"]
        + r["snare_jaccard"]
        - 0.5 * abs(r["hits_difference"]) / max(1, len(played))
        - 4.0 * max(0.0, r["echo_f1"] - DRUM_ECHO_LIMIT)
    )


def _register(played: Notes, notes: Notes, shift: int, converter: MelodyConverter) -> int:
    """`shift` moved by octaves so that the candidate's middle is nearest the bar's, within the
    model's pitch range (unchanged if no octave fits)."""
    target = (played[:, 0].min() + played[:, 0].max()) / 2 - (notes[:, 0].min() + notes[:, 0].max()) / 2
    low, high = converter.min_pitch - notes[:, 0].min(), converter.max_pitch - notes[:, 0].max()
    options = [shift + 12 * k for k in range(-8, 9) if low <= shift + 12 * k <= high]
    return min(options, key=lambda s: abs(s - target)) if options else shift
