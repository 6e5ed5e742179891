"""Realism measures (hmm_live.music.realism): features of hand-made windows, the comparisons' ends."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import MusicVAE
from hmm_live.music import DrumsConverter, MelodyConverter
from hmm_live.music.realism import (
    DRUM_CLASSES,
    Reference,
    drum_features,
    histogram_intersection,
    melody_features,
    morph_smoothness,
    overlapping_area,
    random_pitches,
    windows_of,
)
from hmm_live.training.evaluate import sample_labels, sampling_realism
from tests.support import random_melody, randomize

# C D E G over two bars: C 0-4, D 4-6, E 8-16 (a rest at 6-8), G 16-20, then silence
MELODY = np.array([[60, 0, 4], [62, 4, 6], [64, 8, 16], [67, 16, 20]])


def test_melody_features_of_a_hand_made_window():
    f = melody_features([MELODY], 32)
    s = {name: values[0] for name, values in f.scalars.items()}
    assert s["pitch_count"] == 4
    assert s["pitch_range"] == 7
    assert s["note_count"] == 4
    assert s["mean_ioi"] == pytest.approx(16 / 3)  # onsets 0, 4, 8, 16
    assert s["silent_steps"] == pytest.approx(14 / 32)  # steps 6-7 and 20-31
    assert s["scale_fit"] == 1.0  # C major
    assert f.histograms["pitch_class"][[0, 2, 4, 7]].tolist() == [1, 1, 1, 1]
    assert f.histograms["pitch_class"].sum() == 4
    assert np.flatnonzero(f.histograms["interval"]).tolist() == [12 + 2, 12 + 3]  # +2 twice, +3 once
    assert f.histograms["interval"][14] == 2
    # lengths 4, 2, 8, 4 -> bins "4" (twice), "2", "8"
    assert f.histograms["note_length"].tolist() == [0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_melody_features_bin_edges_and_empty_windows():
    long_notes = np.array([[60, 0, 9], [61, 9, 21], [74, 21, 32]])  # lengths 9, 12, 11; leap of +13
    f = melody_features([long_notes, np.zeros((0, 3), int)], 32)
    assert f.histograms["note_length"][8] == 2
    assert f.histograms["note_length"][9] == 1  # 9-11, 12
    assert f.histograms["interval"][0] == 0
    assert f.histograms["interval"][-1] == 1  # +13 clipped to +12
    assert f.scalars["scale_fit"][0] == pytest.approx(2 / 3)  # C, C# and D: no scale holds all three
    assert np.isnan(f.scalars["pitch_range"][1])
    assert np.isnan(f.scalars["mean_ioi"][1])
    assert f.scalars["note_count"][1] == 0
    assert f.scalars["silent_steps"][1] == 1.0


def test_drum_features_count_hits_kicks_and_backbeats():
    converter = DrumsConverter()
    # bar 1: kick on 0, snare on 4 and 12, hi-hat on every 8th; bar 2: snare on 20 only
    notes = [(36, 0, 1), (38, 4, 5), (38, 12, 13), (38, 20, 21)] + [(42, s, s + 1) for s in range(0, 16, 2)]
    f = drum_features([np.array(notes)], 32, converter.class_of)
    assert f.scalars["hits_per_bar"].tolist() == [11, 1]
    assert f.scalars["hits_per_bar_closed_hihat"].tolist() == [8, 0]
    assert set(f.scalars) == {"hits_per_bar"} | {f"hits_per_bar_{c}" for c in DRUM_CLASSES}
    assert f.rates == {"kick_on_downbeats": 0.5, "snare_on_backbeats": 0.75}


def test_identical_sets_overlap_fully_and_disjoint_ones_not_at_all():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 500)
    assert overlapping_area(a, a) == pytest.approx(1.0, abs=1e-3)
    assert overlapping_area(a, a + 100) == pytest.approx(0.0, abs=1e-6)
    assert 0.2 < overlapping_area(a, a + 1.5) < 0.6  # two unit normals 1.5 apart share 45%
    assert overlapping_area(np.full(50, 3.0), np.full(80, 3.0)) == 1.0
    assert overlapping_area(np.full(50, 3.0), np.full(80, 4.0)) < 0.01
    assert overlapping_area([np.nan], [np.nan]) is None
    assert overlapping_area([1.0], []) == 0.0
    h = np.array([3, 0, 1, 5])
    assert histogram_intersection(h, 2 * h) == pytest.approx(1.0)
    assert histogram_intersection([1, 0], [0, 1]) == 0.0
    assert histogram_intersection([0, 0], [0, 0]) is None


def test_reference_scores_the_data_against_itself_near_its_ceiling():
    """The held-out windows scored against their own other half are the ceiling; random pitches fall below it."""
    converter = MelodyConverter()
    rng = np.random.default_rng(1)
    labels = np.stack([converter.to_labels(random_melody(rng, low=60, high=72)) for _ in range(200)])
    reference = Reference(converter, labels)
    assert reference.size == 100
    assert len(reference.other) == 100
    half = windows_of(converter, reference.half)
    same = reference.score(half)
    assert same["similarity"] == reference.ceiling["similarity"]
    assert same["min_ratio_to_ceiling"] == 1.0
    scored = reference.score(random_pitches(half, range(30, 100), rng))
    assert scored["similarity"]["note_count"] == reference.ceiling["similarity"]["note_count"]  # rhythm kept
    assert scored["ratio_to_ceiling"]["pitch_range"] < 0.5
    assert scored["min_ratio_to_ceiling"] < 0.5


def test_morph_smoothness_shares():
    a, b, c = np.array([[60, 0, 4]]), np.array([[62, 0, 4]]), np.array([[62, 0, 4], [64, 4, 8]])
    assert morph_smoothness([a, a, b, c]) == ([0, 2, 1], pytest.approx(2 / 3))
    assert morph_smoothness([a, a]) == ([0], None)


def test_sampling_realism_of_a_random_model_has_every_metric():
    model = randomize(MusicVAE.create("cat-drums_2bar_small", 8, [16], [16, 16]), seed=3)
    labels = sample_labels(model, 12, temperature=1.0, seed=1)
    assert labels.shape == (12, 32)
    assert (labels == sample_labels(model, 12, 1.0, seed=1)).all()
    result = sampling_realism(model, labels)
    assert result["windows_per_set"] == 6
    assert set(result["samples"]["similarity"]) == set(result["ceiling"]["similarity"])
    assert set(result["samples"]["rates"]) == {"kick_on_downbeats", "snare_on_backbeats"}
