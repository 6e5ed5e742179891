"""How the machine answers a bar: relatedness measures, the "listen" design, the listen <-> lead control."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live.errors import ConfigError
from hmm_live.live.answers import Models, choose, dynamics, looped, make_answer
from hmm_live.live.engine import Engine
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.relatedness import (
    drum_relatedness,
    echo_f1,
    key,
    notes_of,
    onset_jaccard,
    pitch_class_cosine,
    relatedness,
)
from hmm_live.music.sequences import from_notes, quantize, read_midi, slice_bars
from hmm_live.session import Session
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS, UNSEEN_BARS

C_MAJOR = np.array(
    [(60, 0, 2), (62, 2, 4), (64, 4, 6), (65, 6, 8), (67, 8, 10), (69, 10, 12), (71, 12, 14), (72, 14, 16)]
)


@pytest.fixture(scope="module")
def session():
    session = Session(DEFAULT_MODEL)
    session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
    session.train(epochs=100, background=False)
    return session


@pytest.fixture(scope="module")
def unseen():
    """24 bars of held-out tunes (two from each of 12)."""
    sequence = quantize(read_midi(UNSEEN_BARS))
    return [slice_bars(sequence, b, 1) for b in range(0, 48, 2)]


def test_keys_and_measures_of_known_bars():
    assert key(C_MAJOR) == (0, "major")
    assert key(C_MAJOR + [7, 0, 0]) == (7, "major")
    a_minor = np.array([(57, 0, 4), (60, 4, 6), (64, 6, 8), (69, 8, 12), (68, 12, 14), (71, 14, 16)])
    assert key(a_minor) == (9, "minor")
    assert key(np.zeros((0, 3), int)) is None
    assert echo_f1(C_MAJOR, C_MAJOR) == 1.0
    assert echo_f1(C_MAJOR, C_MAJOR + [12, 0, 0]) == 0.0
    assert onset_jaccard(C_MAJOR, C_MAJOR[::2]) == 0.5
    assert pitch_class_cosine(C_MAJOR, C_MAJOR + [12, 0, 0]) == pytest.approx(1.0)


def test_drum_measures_of_known_bars():
    class_of = {36: 0, 38: 1, 40: 1, 42: 2}  # kick, snare (two pitches), closed hi-hat
    played = np.array([(36, 0, 1), (42, 0, 1), (38, 4, 5), (42, 8, 9), (36, 8, 9), (38, 12, 13)])
    answer = np.array([(36, 0, 1), (40, 4, 5), (36, 10, 11), (38, 12, 13), (49, 14, 15)])  # 49: no class
    scores = drum_relatedness(played, answer, class_of)
    assert scores["onset_jaccard"] == 3 / 5  # steps 0, 4, 12 of 0, 4, 8, 10, 12
    assert scores["hits_difference"] == -2.0  # 4 hits against 6
    assert scores["kick_jaccard"] == 1 / 3  # step 0 of 0, 8, 10
    assert scores["snare_jaccard"] == 1.0  # a snare on 4 and 12 in both, whatever its pitch
    assert scores["echo_f1"] == 2 * 3 / (6 + 4)
    assert drum_relatedness(played, played, class_of)["echo_f1"] == 1.0


def test_a_drum_answer_keeps_the_kicks_and_snares_and_is_no_copy():
    converter = DrumsConverter()
    hats = [(42, step, step + 1) for step in range(0, 16, 2)]
    played = np.array([(36, 0, 1), (36, 8, 9), (38, 4, 5), (38, 12, 13), *hats])
    variation = played.copy()
    variation[-1, 0] = 46  # the last closed hi-hat opened
    off_beat = played + [0, 1, 1]  # the same groove a 16th late
    for candidates in ([played, variation, off_beat], [off_beat, played, variation]):
        chosen = choose(played, candidates, converter)
        assert notes_of(chosen).tolist() == variation.tolist()
        assert all(n.is_drum for n in chosen.notes)


def test_an_answer_takes_the_dynamics_of_the_bar():
    bar = from_notes([(60, 0, 4), (62, 4, 8), (64, 8, 16)], 16)
    for note, velocity in zip(bar.notes, (110, 40, 80)):
        note.velocity = velocity
    answer = dynamics(from_notes([(67, 1, 2), (65, 5, 6), (64, 6, 7), (60, 14, 16)], 16), bar)
    assert [n.velocity for n in answer.notes] == [110, 40, 80, 80]  # the nearest played onset's; a tie: the louder
    kit = DrumsConverter()
    groove = from_notes([(36, 0, 1), (42, 0, 1), (38, 4, 5), (42, 2, 3)], 16, is_drum=True)
    for note, velocity in zip(groove.notes, (120, 70, 30, 50)):  # a loud kick, a ghost snare
        note.velocity = velocity
    drums = dynamics(
        from_notes([(36, 4, 5), (40, 12, 13), (46, 3, 4), (49, 8, 9)], 16, is_drum=True), groove, kit.class_of
    )
    assert [n.velocity for n in drums.notes] == [120, 30, 50, 30]  # the same drum's; a drum not played: the nearest
    assert [n.velocity for n in dynamics(from_notes([(60, 0, 1)], 16), from_notes([], 16)).notes] == [100]  # as it was


def test_a_bar_is_heard_as_a_loop():
    sequence = looped(from_notes(C_MAJOR[:2].tolist(), 16), 32)
    assert notes_of(sequence).tolist() == [[60, 0, 2], [62, 2, 4], [60, 16, 18], [62, 18, 20]]
    assert sequence.total_quantized_steps == 32


def test_a_copy_loses_to_a_variation(session):
    variation = C_MAJOR.copy()
    variation[[1, 2, 3, 5, 6], 0] = [64, 62, 60, 67, 74]  # five of eight notes moved within the scale
    chosen = notes_of(choose(C_MAJOR, [C_MAJOR.copy(), variation], session.musicvae.data_converter))
    assert chosen.tolist() == variation.tolist()


def test_a_candidate_moves_to_the_key_and_register_of_the_bar(session):
    candidate = C_MAJOR[::2] + [5 + 24, 0, 0]  # F major, two octaves up
    chosen = notes_of(choose(C_MAJOR, [candidate], session.musicvae.data_converter))
    assert key(chosen)[0] == 0
    assert abs(chosen[:, 0].mean() - C_MAJOR[:, 0].mean()) <= 6


def test_answers_follow_unseen_bars_better_than_the_subspace_point_alone(session, unseen):
    models = Models(session.musicvae, session.subspacer, session.responder)
    scores = {
        design: [relatedness(bar, make_answer(models, bar, design, 0.5, seed=i)[1]) for i, bar in enumerate(unseen)]
        for design in ("listen", "responder")
    }
    mean = {design: {k: np.mean([r[k] for r in rs]) for k in rs[0]} for design, rs in scores.items()}
    assert mean["listen"]["pitch_class_cosine"] > mean["responder"]["pitch_class_cosine"] + 0.15
    assert mean["listen"]["same_tonic"] >= 0.7
    assert mean["listen"]["onset_jaccard"] > mean["responder"]["onset_jaccard"]
    assert mean["listen"]["echo_f1"] <= 0.5


def test_the_lead_end_answers_as_the_original_design(session, unseen):
    session.configure(answers="listen", lead=1.0)
    lead = [notes_of(session.answer(bar)).tolist() for bar in unseen[:4]]
    session.configure(answers="responder", lead=0.5)
    original = [notes_of(session.answer(bar)).tolist() for bar in unseen[:4]]
    session.configure(answers="listen")
    assert lead == original


def test_an_answer_is_one_bar_and_repeatable(session, unseen):
    first = session.answer(unseen[0], seed=3)
    assert first.total_quantized_steps == 16
    assert all(0 <= n.quantized_start_step < n.quantized_end_step <= 16 for n in first.notes)
    assert notes_of(session.answer(unseen[0], seed=3)).tolist() == notes_of(first).tolist()
    assert not session.answer(from_notes([], 16)).notes  # a rest gets no answer, as in the engine


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"answers": "echo"}, "answers must be one of"),
        ({"lead": 1.5}, "lead must be a number from 0"),
        ({"lead": "all"}, "lead must be a number from 0"),
    ],
)
def test_answer_settings_are_checked(session, settings, words):
    with pytest.raises(ConfigError, match=words):
        session.configure(**settings)


def test_the_engine_takes_answer_settings_live(session):
    session.engine = Engine(session.musicvae, session.subspacer, session.responder, input=False, output=False)
    try:
        session.configure(lead=0.25, answers="responder")
        assert (session.engine.lead, session.engine.answers) == (0.25, "responder")
    finally:
        session.engine = None
        session.configure(lead=0.5, answers="listen")
