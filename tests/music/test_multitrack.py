"""Multitrack (hmm_live.music.multitrack): tracks of performance tokens, and back to notes."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import ConfigError, SequenceError, UnsupportedModelError
from hmm_live.models.musicvae.configs import get_config
from hmm_live.music import MultitrackConverter, NoteSequence, converter_from_spec, from_notes
from hmm_live.music.performance import NOTE_OFF, NOTE_ON, TIME_SHIFT, set_num_steps

CONV = converter_from_spec(get_config("hier-multiperf_vel_1bar_med").data_converter)
END = CONV.end_token
PERF = CONV.performance_depth  # program p's token is PERF + p; drums PERF + 128


def sequence(*tracks: tuple[int, int | None, list[tuple[int, int, int]]], velocity: int = 100) -> NoteSequence:
    """Tracks of (instrument, program or None for drums, [(pitch, start, end)]) at 24 steps per quarter."""
    seq = from_notes([], 96, steps_per_quarter=24)
    for instrument, program, notes in tracks:
        part = from_notes(notes, 96, is_drum=program is None, steps_per_quarter=24).notes
        for note in part:
            note.instrument, note.program, note.velocity = instrument, program or 0, velocity
        seq.notes.extend(part)
    return seq


def track_tokens(labels: np.ndarray, track: int) -> list[int]:
    row = labels.reshape(8, 64)[track]
    return row[row >= 0].tolist()


def test_depth_and_layout_are_magentas():
    """490 classes: 128 note-ons, 128 note-offs, 96 time shifts, 8 velocity bins, 129 programs, the end."""
    assert CONV.input_depth == CONV.output_depth == 490
    assert (PERF, END, CONV.track_length, CONV.num_bars) == (360, 489, 64, 1)


def test_one_note_is_program_velocity_on_shift_off_shift_end():
    labels = CONV.to_labels(sequence((5, 33, [(60, 0, 24)])))
    velocity_bin = (100 - 1) // 16 + 1  # 7 of 8
    shift = 2 * 128  # a shift of s steps is shift + s - 1
    expected = [PERF + 33, shift + 96 + velocity_bin - 1, 60, shift + 23, 128 + 60, shift + 71, END]
    assert track_tokens(labels, 0) == expected
    assert all(track_tokens(labels, t) == [END] for t in range(1, 8))  # no track: the end token alone
    assert (labels.reshape(8, 64)[0, len(expected) :] == -1).all()  # then rows of zeros
    inputs = CONV.to_inputs(sequence((5, 33, [(60, 0, 24)])))
    assert inputs.shape == (512, 490)
    assert inputs.sum() == len(expected) + 7


def test_round_trip_keeps_notes_programs_and_drums():
    seq = sequence(
        (9, None, [(36, 0, 6), (42, 0, 6), (38, 24, 30)]),
        (4, 40, [(67, 12, 36), (72, 48, 96)]),
        (2, 0, [(60, 0, 48), (64, 0, 48), (60, 48, 72)]),
        velocity=90,
    )
    back = CONV.from_labels(CONV.to_labels(seq))
    # tracks sorted by program, drums last; track i comes back as instrument i
    got = sorted(
        (n.instrument, n.program, n.is_drum, n.pitch, n.quantized_start_step, n.quantized_end_step) for n in back.notes
    )
    want = sorted(
        [(0, 0, False, p, s, e) for p, s, e in [(60, 0, 48), (64, 0, 48), (60, 48, 72)]]
        + [(1, 40, False, p, s, e) for p, s, e in [(67, 12, 36), (72, 48, 96)]]
        + [(2, 0, True, p, s, e) for p, s, e in [(36, 0, 6), (42, 0, 6), (38, 24, 30)]]
    )
    assert got == want
    assert {n.velocity for n in back.notes} == {81}  # 90's bin (6), at its lowest velocity
    assert back.quantization_info.steps_per_quarter == 24
    assert back.total_quantized_steps == 96
    assert back.notes[0].end_time == pytest.approx(back.notes[0].quantized_end_step * 0.5 / 24)


def test_past_eight_tracks_the_last_are_dropped():
    tracks = [(i, 10 * i, [(60 + i, i, i + 4)]) for i in range(9)] + [(20, None, [(36, 0, 2)])]
    labels = CONV.to_labels(sequence(*tracks))
    assert [track_tokens(labels, t)[0] - PERF for t in range(8)] == [10 * i for i in range(8)]
    back = CONV.from_labels(labels)
    assert {n.pitch for n in back.notes} == set(range(60, 68))  # program 80 and the drums are gone


def test_a_track_past_its_rows_loses_its_last_events():
    notes = [(60 + i % 12, i, i + 1) for i in range(40)]  # 40 notes: 120 events, 62 fit
    labels = CONV.to_labels(sequence((0, 0, notes)))
    tokens = track_tokens(labels, 0)
    assert len(tokens) == 64
    assert tokens[-1] == END
    back = CONV.from_labels(labels)
    assert 10 < len(back.notes) < 40
    assert back.notes[-1].quantized_end_step == 96  # a note whose note-off was cut holds to the end


def test_notes_outside_the_pitch_range_are_dropped():
    conv = MultitrackConverter(128, 8, min_pitch=48, max_pitch=84)
    assert conv.input_depth == 2 * 37 + 96 + 8 + 129 + 1
    back = conv.from_labels(conv.to_labels(sequence((0, 0, [(30, 0, 4), (60, 4, 8), (100, 8, 12)]))))
    assert [(n.pitch, n.quantized_start_step) for n in back.notes] == [(60, 4)]


def test_set_num_steps_pads_and_cuts_as_magenta_js():
    events = [(NOTE_ON, 60), (TIME_SHIFT, 30)]
    set_num_steps(events, 200, 96)
    assert events == [(NOTE_ON, 60), (TIME_SHIFT, 96), (TIME_SHIFT, 96), (TIME_SHIFT, 8)]
    set_num_steps(events, 100, 96)
    assert events == [(NOTE_ON, 60), (TIME_SHIFT, 96), (TIME_SHIFT, 4)]
    events += [(NOTE_OFF, 60)]
    set_num_steps(events, 50, 96)
    assert events == [(NOTE_ON, 60), (TIME_SHIFT, 50)]


def test_decoding_reads_each_track_up_to_its_end_token():
    shift = 2 * 128
    track = [PERF + 128, 36, shift + 11, 128 + 36, END, 38, shift + 5, 128 + 38]  # drums; after the end: ignored
    rows = np.full((8, 64), END)
    rows[3, : len(track)] = track
    rows[5, :3] = [62, shift + 47, PERF + 7]  # no program first: the first program token counts
    back = CONV.from_labels(rows.reshape(-1))
    assert [
        (n.instrument, n.pitch, n.quantized_start_step, n.quantized_end_step, n.is_drum, n.program) for n in back.notes
    ] == [
        (3, 36, 0, 12, True, 0),
        (5, 62, 0, 96, False, 7),  # never ended: held to the end
    ]


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda s: s.notes[0].__setattr__("velocity", 0), "velocity 0, not 1..127"),
        (lambda s: s.notes[1].__setattr__("program", 5), "instrument 2 mixes programs"),
        (lambda s: s.notes[1].__setattr__("is_drum", True), "instrument 2 mixes drum and other notes"),
        (
            lambda s: s.notes[1].MergeFrom(type(s.notes[1])(quantized_start_step=96, quantized_end_step=99)),
            "starts past the model's 96 steps",
        ),
        (lambda s: s.quantization_info.__setattr__("steps_per_quarter", 4), "quantised to 4 steps per quarter"),
    ],
    ids=["velocity 0", "two programs", "drums and not", "past the bar", "quantised at 4"],
)
def test_bad_sequences_are_refused_clearly(change, pattern):
    seq = sequence((2, 0, [(60, 0, 4), (62, 4, 8)]))
    seq.filename = "song.mid"
    change(seq)
    with pytest.raises(SequenceError, match=pattern) as raised:
        CONV.to_inputs(seq)
    assert "song.mid" in str(raised.value)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ({"numSteps": 512}, "needs numSegments"),
        ({"numSteps": 8, "numSegments": 8}, "tracks of 1 rows"),
        ({"numSteps": 512, "numSegments": 8, "numVelocityBins": -1}, "numVelocityBins"),
    ],
)
def test_bad_configs_are_refused_clearly(args, pattern):
    full = {"stepsPerQuarter": 24, "totalSteps": 96, "numVelocityBins": 8} | args
    with pytest.raises(ConfigError, match=pattern):
        converter_from_spec({"type": "MultitrackConverter", "args": full})


def test_the_spec_is_magenta_js_config_and_training_is_refused():
    assert (
        converter_from_spec(CONV.spec()).spec()
        == CONV.spec()
        == get_config("hier-multiperf_vel_1bar_med").data_converter
    )
    with pytest.raises(UnsupportedModelError, match="multitrack"):
        CONV.training_windows(sequence((0, 0, [(60, 0, 4)])))
