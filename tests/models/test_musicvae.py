"""The public MusicVAE API on small random models: Magenta's operations and clear errors."""

from __future__ import annotations

import struct

import note_seq
import numpy as np
import pytest

from hmm_live import (
    CheckpointError,
    ChordError,
    ConfigError,
    HmmLiveError,
    MidiFileError,
    MusicVAE,
    SequenceError,
    UnsupportedModelError,
)
from hmm_live.models.musicvae.model import slerp
from hmm_live.models.musicvae.network import NetworkSpec
from hmm_live.music import MelodyConverter, MultitrackConverter, NoteSequence, TrioConverter, from_notes, read_midi
from tests.support import note_triples, random_drums, random_melody, random_multitrack, randomize

Z = 16


@pytest.fixture(scope="module")
def model():
    return randomize(MusicVAE.create("cat-mel_2bar_small", Z, [32], [24, 24], seed=21), seed=21)


@pytest.fixture(scope="module")
def chord_model():
    return randomize(MusicVAE.create("cat-mel_2bar_med_chords", 8, [16], [16], seed=22), seed=22)


@pytest.fixture(scope="module")
def melodies():
    rng = np.random.default_rng(31)
    return [random_melody(rng) for _ in range(4)]


def unquantized_copy(seq: NoteSequence) -> NoteSequence:
    """The same music in seconds only (no steps, no quantisation info)."""
    out = NoteSequence(ticks_per_quarter=seq.ticks_per_quarter)
    out.tempos.extend(seq.tempos)
    out.time_signatures.extend(seq.time_signatures)
    for n in seq.notes:
        out.notes.add(pitch=n.pitch, velocity=n.velocity, start_time=n.start_time, end_time=n.end_time)
    out.total_time = seq.total_time
    return out


def triples(seqs) -> list:
    return [note_triples(s) for s in seqs]


# -- Magenta's operations ---------------------------------------------------


def test_metadata(model, chord_model):
    assert model.z_size == Z
    assert model.num_steps == 32
    assert isinstance(model.data_converter, MelodyConverter)
    assert model.data_converter.num_steps == 32
    assert model.config == "cat-mel_2bar_small"
    assert model.chord_encoder is None
    assert "cat-mel_2bar_small" in repr(model)
    assert "z=16" in repr(model)
    assert chord_model.config == "cat-mel_2bar_med_chords"
    assert chord_model.z_size == 8
    assert chord_model.chord_encoder.name == "TriadChordEncoder"
    assert chord_model.chord_encoder.depth == 49


def test_encode_shapes(model, melodies):
    z, mu, sigma = model.encode(melodies, seed=1)
    for a in (z, mu, sigma):
        assert a.shape == (4, Z)
        assert a.dtype == np.float32
        assert np.isfinite(a).all()
    assert (sigma > 0).all()
    assert not np.array_equal(z, mu)  # z is a sample, not the mean
    z2, _, _ = model.encode(melodies, seed=1)
    np.testing.assert_array_equal(z, z2)
    _, mu1, _ = model.encode(melodies[1])  # a lone NoteSequence is a batch of one
    np.testing.assert_allclose(mu1[0], mu[1], atol=1e-6)
    assert not np.allclose(mu[0], mu[1])  # different melodies, different codes


def test_quantized_and_unquantized_encode_identically(model, melodies):
    plain = [unquantized_copy(m) for m in melodies]
    assert not any(p.quantization_info.steps_per_quarter for p in plain)
    _, mu_q, sigma_q = model.encode(melodies)
    _, mu_u, sigma_u = model.encode(plain)
    np.testing.assert_array_equal(mu_q, mu_u)
    np.testing.assert_array_equal(sigma_q, sigma_u)


def test_greedy_decode_is_deterministic(model, melodies):
    _, mu, _ = model.encode(melodies)
    a = model.decode(mu)
    b = model.decode(mu, temperature=None)
    assert len(a) == 4
    assert triples(a) == triples(b)
    assert all(s.total_quantized_steps == 32 for s in a)
    np.testing.assert_array_equal(model.decode_labels(mu), model.decode_labels(mu))
    assert [model.data_converter.to_labels(s).tolist() for s in a] == model.decode_labels(mu).tolist()


def test_sampled_decode_seeds(model):
    z = np.random.default_rng(2).standard_normal((4, Z)).astype(np.float32)
    a = model.decode_labels(z, temperature=1.0, seed=5)
    np.testing.assert_array_equal(a, model.decode_labels(z, temperature=1.0, seed=5))
    assert not np.array_equal(a, model.decode_labels(z, temperature=1.0, seed=6))
    assert not np.array_equal(a, model.decode_labels(z))  # sampling is not greedy decoding
    assert triples(model.decode(z, 1.0, seed=5)) == triples(model.decode(z, 1.0, seed=5))


def test_sample_seeds(model):
    a = model.sample(3, temperature=0.8, seed=9)
    assert len(a) == 3
    assert all(isinstance(s, NoteSequence) for s in a)
    assert triples(a) == triples(model.sample(3, temperature=0.8, seed=9))
    assert triples(a) != triples(model.sample(3, temperature=0.8, seed=10))


def test_interpolate_endpoints(model, melodies):
    a, b = melodies[0], melodies[1]
    out = model.interpolate(a, b, 5)
    assert len(out) == 5
    assert all(isinstance(s, NoteSequence) for s in out)
    _, mu, _ = model.encode([a, b])
    ends = model.decode(mu)
    assert note_triples(out[0]) == note_triples(ends[0])
    assert note_triples(out[-1]) == note_triples(ends[1])
    z_out = model.interpolate(mu[0], mu[1], 5)  # z vectors work as well as sequences
    assert triples(z_out) == triples(out)


def test_interpolate_from_the_origin(model):
    """z = 0 (the prior's mean) is a valid end point, not a NaN."""
    zb = np.ones(Z, np.float32)
    out = model.interpolate(np.zeros(Z, np.float32), zb, 3)
    assert note_triples(out[0]) == note_triples(model.decode(np.zeros((1, Z)))[0])
    assert note_triples(out[-1]) == note_triples(model.decode(zb[None])[0])


def test_slerp():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, Z)).astype(np.float32)
    np.testing.assert_array_equal(slerp(a, b, 0.0), a)
    np.testing.assert_array_equal(slerp(a, b, 1.0), b)
    b_same_norm = b / np.linalg.norm(b) * np.linalg.norm(a)
    mid = slerp(a, b_same_norm, 0.5)
    assert mid.dtype == np.float32
    assert np.linalg.norm(mid) == pytest.approx(np.linalg.norm(a), rel=1e-5)  # stays on the sphere
    cos = lambda u, v: float(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v))  # noqa: E731
    assert cos(mid, a) == pytest.approx(cos(mid, b_same_norm), abs=1e-5)  # halfway in angle
    np.testing.assert_allclose(slerp(a, 3 * a, 0.5), 2 * a, rtol=1e-6)  # parallel: linear


def test_similar_with_similarity_one_decodes_mu(model, melodies):
    _, mu, _ = model.encode([melodies[2]])
    want = note_triples(model.decode(mu)[0])
    got = model.similar(melodies[2], 3, 1.0, temperature=None, seed=4)
    assert len(got) == 3
    assert triples(got) == [want] * 3


def test_similar_seeds(model, melodies):
    a = model.similar(melodies[0], 3, 0.5, temperature=0.7, seed=4)
    assert triples(a) == triples(model.similar(melodies[0], 3, 0.5, temperature=0.7, seed=4))
    assert triples(a) != triples(model.similar(melodies[0], 3, 0.5, temperature=0.7, seed=5))


def test_decode_length_truncates(model, melodies):
    _, mu, _ = model.encode(melodies)
    full = model.decode_labels(mu)
    short = model.decode_labels(mu, length=16)
    assert short.shape == (4, 16)
    np.testing.assert_array_equal(short, full[:, :16])
    for s in model.decode(mu, length=16):
        assert s.total_quantized_steps == 16
        assert all(n.quantized_end_step <= 16 for n in s.notes)


def test_a_reconstruction_is_the_greedy_decode_of_mu(model, melodies):
    inputs = np.stack([model.data_converter.to_inputs(m) for m in melodies])
    mu, _ = model.encode_tensors(inputs)
    np.testing.assert_array_equal(model.reconstruct_labels(inputs, 16), model.decode_labels(mu, length=16))


def test_chord_model(chord_model, melodies):
    chords = ["C", "G", "Am", "F"]
    _, mu, sigma = chord_model.encode(melodies[:2], chords=chords)
    assert mu.shape == (2, 8)
    assert (sigma > 0).all()
    _, mu_other, _ = chord_model.encode(melodies[:2], chords=["Dm", "G"])
    assert not np.allclose(mu, mu_other)  # the chords reach the encoder
    a = chord_model.decode_labels(mu, controls=chord_model.controls(chords))
    assert [
        chord_model.data_converter.to_labels(s).tolist() for s in chord_model.decode(mu, chords=chords)
    ] == a.tolist()
    assert len(chord_model.sample(2, chords=["N.C."], seed=1)) == 2


def test_drum_model():
    drums = randomize(MusicVAE.create("cat-drums_2bar_small", 8, [16], [16], seed=23), seed=23)
    assert drums.data_converter.input_depth == 10
    assert drums.data_converter.output_depth == 512
    rng = np.random.default_rng(6)
    patterns = [random_drums(rng) for _ in range(2)]
    _, mu, sigma = drums.encode(patterns)
    assert mu.shape == (2, 8)
    assert (sigma > 0).all()
    out = drums.decode(mu)
    assert all(n.is_drum for s in out for n in s.notes)
    np.testing.assert_array_equal(np.stack([drums.data_converter.to_labels(s) for s in out]), drums.decode_labels(mu))
    with pytest.raises(SequenceError, match="is_drum"):
        drums.encode([OK])  # a melody given to a drum model


@pytest.fixture(scope="module")
def trio():
    """A 4-bar trio (trio_4bar_lokl_small_q1's layout), tiny."""
    converter = TrioConverter(64, 4)
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=8,
        encoder_sizes=(16, 16),
        decoder_sizes=(16,),
        num_steps=64,
        num_segments=4,
        hierarchical_encoder=True,
        conductor_sizes=(16,),
        split_depths=converter.split_depths,
    )
    return randomize(MusicVAE(spec, converter), seed=24)


def test_trio_decodes_three_instruments(trio):
    z = np.random.default_rng(7).standard_normal((2, 8)).astype(np.float32)
    labels = trio.decode_labels(z)
    assert labels.shape == (2, 64, 3)
    parts = {(n.instrument, n.program, n.is_drum) for s in trio.decode(z) for n in s.notes}
    assert parts == {(0, 0, False), (1, 32, False), (2, 0, True)}


def test_trio_encodes_what_it_decodes(trio):
    z = np.random.default_rng(8).standard_normal((2, 8)).astype(np.float32)
    decoded = trio.decode(z)
    np.testing.assert_array_equal(np.stack([trio.data_converter.to_labels(s) for s in decoded]), trio.decode_labels(z))
    _, mu, _ = trio.encode(decoded)
    assert mu.shape == (2, 8)


def test_trio_samples_are_seeded(trio):
    a, b = (trio.decode_labels(np.zeros((1, 8)), temperature=1.0, seed=s) for s in (1, 1))
    np.testing.assert_array_equal(a, b)
    c = trio.decode_labels(np.zeros((1, 8)), temperature=1.0, seed=2)
    assert (a != c).any()


def test_trio_instruments_draw_their_own_noise(trio):
    labels = trio.decode_labels(np.zeros((1, 8)), temperature=50.0, seed=3)[0]
    assert (labels[:, 0] != labels[:, 1]).any()  # melody and bass (same depth) are not drawn alike


@pytest.fixture(scope="module")
def nade():
    return randomize(MusicVAE.create("nade-drums_2bar_reduced", 8, [16], [16, 16]), seed=25, scale=0.5)


def test_nade_decodes_several_drums_per_step(nade):
    z = np.random.default_rng(9).standard_normal((4, 8)).astype(np.float32)
    labels = nade.decode_labels(z)
    assert labels.max() < 512
    steps = [[n.quantized_start_step for n in s.notes] for s in nade.decode(z)]
    assert any(len(s) > len(set(s)) for s in steps)  # some step has more than one drum


def test_nade_greedy_decode_is_what_it_encodes(nade):
    z = np.random.default_rng(10).standard_normal((2, 8)).astype(np.float32)
    labels = nade.decode_labels(z)
    np.testing.assert_array_equal(np.stack([nade.data_converter.to_labels(s) for s in nade.decode(z)]), labels)


def test_nade_samples_at_a_temperature(nade):
    z = np.zeros((1, 8), np.float32)
    greedy = nade.decode_labels(z)
    a, b = (nade.decode_labels(z, temperature=1.0, seed=4) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert (a != greedy).any()


def test_nade_is_not_trained(nade):
    with pytest.raises(UnsupportedModelError, match="NADE"):
        nade.network.decoder.teacher_forced(np.zeros((1, 8), np.float32), np.zeros((1, 32), np.int64), 0.0, None)


@pytest.fixture(scope="module", params=["hier-multiperf_vel_1bar_med", "hier-multiperf_vel_1bar_med_chords"])
def multitrack(request):
    """A multitrack* model's layout (8 tracks of 64 tokens), tiny; its chords, where it has them."""
    model = MusicVAE.create(request.param, 8, [16, 16], [16])
    return randomize(model, seed=26), ["Dm"] if model.chord_encoder else None


def test_multitrack_decodes_each_track_as_an_instrument(multitrack):
    model, chords = multitrack
    z = np.random.default_rng(11).standard_normal((3, 8)).astype(np.float32)
    assert model.decode_labels(z, controls=model.controls(chords)).shape == (3, 512)
    decoded = model.decode(z, temperature=1.0, chords=chords, seed=4)  # random weights: greedy plays little
    instruments = {n.instrument for s in decoded for n in s.notes}
    assert instruments
    assert instruments <= set(range(8))
    assert all(s.quantization_info.steps_per_quarter == 24 for s in decoded)
    assert triples(model.sample(2, chords=chords, seed=5)) == triples(model.sample(2, chords=chords, seed=5))


def test_multitrack_encodes_a_batch_as_each_alone(multitrack):
    """Tracks of different lengths side by side: each read only up to its end token."""
    model, chords = multitrack
    rng = np.random.default_rng(12)
    sequences = [random_multitrack(rng, programs, 4) for programs in ([0, None], [40], list(range(9)))]
    _, mu, _ = model.encode(sequences, chords)
    alone = np.concatenate([model.encode([s], chords)[1] for s in sequences])
    np.testing.assert_allclose(mu, alone, atol=1e-6)


def test_multitrack_rows_past_a_track_end_are_not_read(multitrack):
    model, chords = multitrack
    inputs = model.data_converter.to_inputs(random_multitrack(np.random.default_rng(13), [0, 33, None], 3))[None]
    controls = model.controls(chords)
    mu = model.encode_tensors(inputs, controls)[0]
    padding = inputs[0].sum(-1) == 0
    noisy = inputs.copy()
    noisy[0, padding, 7] = 1.0  # rows of zeros after each end token become note-ons
    np.testing.assert_array_equal(model.encode_tensors(noisy, controls)[0], mu)
    noisy[0, 1] = np.roll(noisy[0, 1], 1)  # a row before the first track's end does count
    assert np.abs(model.encode_tensors(noisy, controls)[0] - mu).max() > 1e-4


def test_multitrack_interpolates_between_reconstructions(multitrack):
    model, chords = multitrack
    rng = np.random.default_rng(14)
    a, b = random_multitrack(rng, [0, None], 4), random_multitrack(rng, [24, 40, 80], 4)
    out = model.interpolate(a, b, 4, chords=chords)
    ends = model.decode(model.encode([a, b], chords)[1], chords=chords)
    assert (triples(out[:1]), triples(out[-1:])) == (triples(ends[:1]), triples(ends[1:]))


def test_multitrack_needs_a_hierarchical_encoder():
    converter = MultitrackConverter()
    spec = NetworkSpec(490, 490, 8, (16,), (16,), 512, num_segments=8, conductor_sizes=(16,))
    with pytest.raises(CheckpointError, match="needs a hierarchical encoder"):
        MusicVAE(spec, converter)


def test_multitrack_chords_are_one_chord_on_every_track():
    model = MusicVAE.create("hier-multiperf_vel_1bar_med_chords", 8, [16, 16], [16])
    controls = model.controls(["G7"]).reshape(8, 64, -1)
    no_chord, chord = model.chord_encoder.encode("N.C."), model.chord_encoder.encode("G7")
    assert (controls[:, 0] == no_chord).all()  # each track's program step
    assert (controls[:, 1:] == chord).all()
    with pytest.raises(ChordError, match="one chord for all its tracks"):
        model.controls(["C", "G"])


# -- bad input ------------------------------------------------------------------


def bad_time_signature() -> NoteSequence:
    seq = from_notes([(60, 0, 4)], 32)
    seq.time_signatures.add(numerator=3, denominator=4)
    return seq


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


ZERO = np.zeros((1, Z), np.float32)
NAN = np.full((1, Z), np.nan, np.float32)
OK = from_notes([(60, 0, 4), (64, 4, 8)], 32)

BAD_INPUTS = [
    # id, exception, message pattern, call
    (
        "random bytes",
        MidiFileError,
        r"junk\.mid",
        lambda m, c, t: read_midi(write(t, "junk.mid", np.random.default_rng(0).bytes(500))),
    ),
    ("empty file", MidiFileError, r"empty\.mid", lambda m, c, t: read_midi(write(t, "empty.mid", b""))),
    (
        "truncated MIDI",
        MidiFileError,
        r"cut\.mid",
        lambda m, c, t: read_midi(write(t, "cut.mid", b"MThd\0\0\0\6\0\1\0\2\1\xe0MTrk\0\0\x10\0\x90")),
    ),
    ("missing file", MidiFileError, r"nowhere\.mid", lambda m, c, t: read_midi(t / "nowhere.mid")),
    (
        "pitch above range",
        SequenceError,
        r"pitch 110",
        lambda m, c, t: m.encode([from_notes([(60, 0, 4), (110, 8, 12)], 32)]),
    ),
    ("pitch below range", SequenceError, r"pitch 20", lambda m, c, t: m.encode([from_notes([(20, 0, 4)], 32)])),
    (
        "too long",
        SequenceError,
        r"step 32.*32 steps",
        lambda m, c, t: m.encode([from_notes([(60, 0, 4), (62, 32, 36)], 48)]),
    ),
    ("3/4", SequenceError, r"3/4", lambda m, c, t: m.encode([bad_time_signature()])),
    ("negative step", SequenceError, r"step", lambda m, c, t: m.encode([from_notes([(60, -2, 4)], 32)])),
    ("no sequences", SequenceError, r"at least one", lambda m, c, t: m.encode([])),
    ("not a NoteSequence", SequenceError, r"NoteSequence", lambda m, c, t: m.encode(["take1.mid"])),
    ("chords to a non-chord model", ChordError, r"not chord-conditioned", lambda m, c, t: m.encode([OK], chords=["C"])),
    (
        "chords to a non-chord decode",
        ChordError,
        r"not chord-conditioned",
        lambda m, c, t: m.decode(ZERO, chords=["C"]),
    ),
    ("no chords to a chord model", ChordError, r"chords=", lambda m, c, t: c.encode([OK])),
    ("no chords to a chord sample", ChordError, r"chords=", lambda m, c, t: c.sample(1)),
    ("more chords than steps", ChordError, r"33", lambda m, c, t: c.encode([OK], chords=["C"] * 33)),
    ("unknown chord", ChordError, r"Xyz", lambda m, c, t: c.encode([OK], chords=["C", "Xyz"])),
    ("chord that is not a string", ChordError, r"None", lambda m, c, t: c.encode([OK], chords=["C", None])),
    ("z too narrow", ConfigError, r"z .*16.*15", lambda m, c, t: m.decode(np.zeros((1, Z - 1)))),
    ("z too wide", ConfigError, r"z .*16.*17", lambda m, c, t: m.decode(np.zeros((2, Z + 1)))),
    ("z with NaN", ConfigError, r"finite", lambda m, c, t: m.decode(NAN)),
    ("z with inf", ConfigError, r"finite", lambda m, c, t: m.decode_labels(ZERO + np.inf)),
    ("interpolate z widths", ConfigError, r"16", lambda m, c, t: m.interpolate(ZERO[0], np.ones(Z - 1), 3)),
    ("interpolate 1 step", ConfigError, r"num_steps", lambda m, c, t: m.interpolate(ZERO[0] + 1, ZERO[0], 1)),
    ("temperature 0", ConfigError, r"temperature", lambda m, c, t: m.decode(ZERO, temperature=0.0)),
    ("temperature < 0", ConfigError, r"temperature", lambda m, c, t: m.decode(ZERO, temperature=-0.5)),
    ("sample temperature 0", ConfigError, r"temperature", lambda m, c, t: m.sample(2, temperature=0)),
    ("similarity 1.5", ConfigError, r"similarity.*1\.5", lambda m, c, t: m.similar(OK, 2, 1.5)),
    ("similarity < 0", ConfigError, r"similarity", lambda m, c, t: m.similar(OK, 2, -0.1)),
    ("length 0", ConfigError, r"length", lambda m, c, t: m.decode(ZERO, length=0)),
    ("length past the model", ConfigError, r"length", lambda m, c, t: m.decode(ZERO, length=33)),
    (
        "reconstruct the wrong inputs",
        SequenceError,
        r"\[n, 32, 90\].*\[1, 16, 90\]",
        lambda m, c, t: m.reconstruct_labels(np.zeros((1, 16, 90))),
    ),
    (
        "reconstruct past the model",
        ConfigError,
        r"length",
        lambda m, c, t: m.reconstruct_labels(np.zeros((1, 32, 90)), 33),
    ),
]


@pytest.mark.parametrize("exc, pattern, call", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_input(model, chord_model, tmp_path, exc, pattern, call):
    assert issubclass(exc, HmmLiveError)
    with pytest.raises(HmmLiveError) as info:
        call(model, chord_model, tmp_path)
    assert isinstance(info.value, exc), f"{type(info.value).__name__}: {info.value}"
    assert not isinstance(info.value, (KeyError, IndexError, struct.error, ValueError, TypeError))
    assert info.match(pattern)


def test_corrupt_midi_message_names_the_file(tmp_path):
    path = write(tmp_path, "broken take.mid", b"MThd garbage")
    with pytest.raises(MidiFileError) as info:
        read_midi(path)
    assert str(path) in str(info.value)
    assert info.value.__cause__ is None  # no chained traceback from the MIDI parser


def test_unquantized_sequence_errors(model):
    """Errors found while quantising are SequenceErrors too."""
    seq = NoteSequence()
    seq.tempos.add(qpm=120)
    seq.notes.add(pitch=60, velocity=80, start_time=-1.0, end_time=0.5)
    with pytest.raises(SequenceError, match="negative"):
        model.encode([seq])
    change = NoteSequence()
    change.tempos.add(qpm=120)
    change.time_signatures.add(numerator=4, denominator=4)
    change.time_signatures.add(numerator=3, denominator=4, time=1.0)
    change.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=0.5)
    with pytest.raises(SequenceError, match="3/4"):
        model.encode([change])
    eighth = note_seq.quantize_note_sequence(unquantized_copy(OK), 8)
    with pytest.raises(SequenceError, match="8 steps per quarter"):
        model.encode([eighth])
