"""hmm_live's MusicVAE against @magenta/music 1.23.1 on the same random-weight checkpoints.

mu must agree to 1e-4 and greedy decoder labels exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import MusicVAE
from hmm_live.models.musicvae.configs import get_config
from hmm_live.models.musicvae.network import NetworkSpec
from hmm_live.music import (
    ChordEncoder,
    GrooveConverter,
    MelodyConverter,
    NoteSequence,
    TrioConverter,
    converter_from_spec,
    from_notes,
    melody_controls,
)
from tests.support import (
    MULTICONTROL,
    js_sequence,
    js_timed_sequence,
    note_triples,
    random_drums,
    random_groove,
    random_melody,
    random_multitrack,
    randomize,
)

pytestmark = pytest.mark.timeout(1200)


def check_against_js(oracle, model: MusicVAE, folder, sequences, chords=None, js_sequences=True, extra_controls=None):
    """Encode and greedily decode with both implementations and compare."""
    rng = np.random.default_rng(7)
    inputs = np.stack([model.data_converter.to_inputs(s) for s in sequences])
    controls = model.controls(chords, extra_controls)
    mu, _ = model.encode_tensors(inputs, controls)
    z = np.concatenate([mu, rng.standard_normal((3, model.z_size)).astype(np.float32)])
    job = {"inputs": inputs.tolist(), "z": z.tolist(), "chords": chords}
    if extra_controls:
        job["extra_controls"] = {name: np.asarray(v).tolist() for name, v in extra_controls.items()}
    job |= {"split_depths": list(model.spec.split_depths) or None, "multi_label": model.data_converter.multi_label}
    if js_sequences:
        job["sequences"] = [js_sequence(s) for s in sequences]
    ref = oracle.run(folder, **job)

    if "tokens" in ref:  # magenta-js's converter wrote the same tokens (multitrack)
        np.testing.assert_array_equal(np.array(ref["tokens"]), inputs_labels(model, sequences))
    np.testing.assert_allclose(np.array(ref["mu"]), mu, atol=1e-4, rtol=0)
    if js_sequences:  # magenta-js's own NoteSequence -> tensor path agrees on these inputs
        np.testing.assert_allclose(np.array(ref["sequence_mu"]), mu, atol=1e-4, rtol=0)
    labels = model.decode_labels(z, controls=controls)
    np.testing.assert_array_equal(np.array(ref["labels"]), labels)
    ours = model.decode(z, chords=chords, extra_controls=extra_controls)
    assert [note_triples(s) for s in ours] == ref["notes"]
    assert [[[n.instrument, n.program, n.is_drum] for n in s.notes] for s in ours] == ref["instruments"]
    return mu, labels


def inputs_labels(model: MusicVAE, sequences) -> np.ndarray:
    return np.stack([model.data_converter.to_labels(s) for s in sequences])


def test_melody_2bar(oracle, tmp_path):
    model = randomize(MusicVAE.create("cat-mel_2bar_small", 32, [64], [48, 48]), seed=1)
    model.export(tmp_path / "mel")
    rng = np.random.default_rng(0)
    check_against_js(oracle, model, tmp_path / "mel", [random_melody(rng) for _ in range(6)])


def test_drums_2bar_python_roll_meaning(oracle, tmp_path):
    # Inputs are given to magenta-js as tensors: its own drum roll puts the
    # "no hit" column one row early, and the official checkpoints were
    # trained with Python Magenta's meaning, which hmm_live follows.
    model = randomize(MusicVAE.create("cat-drums_2bar_small", 32, [64], [48, 48]), seed=2)
    model.export(tmp_path / "drums")
    rng = np.random.default_rng(1)
    check_against_js(oracle, model, tmp_path / "drums", [random_drums(rng) for _ in range(6)], js_sequences=False)


@pytest.mark.parametrize("encoder", ["TriadChordEncoder", "PitchChordEncoder"])
def test_chord_conditioned_melody(oracle, tmp_path, encoder):
    chords = ChordEncoder(encoder)
    converter = MelodyConverter(32)
    spec = NetworkSpec(
        input_depth=90,
        output_depth=90,
        z_size=32,
        encoder_sizes=(64,),
        decoder_sizes=(48, 48),
        num_steps=32,
        control_depth=chords.depth,
    )
    model = randomize(MusicVAE(spec, converter, chords), seed=3)
    model.export(tmp_path / "chords")
    rng = np.random.default_rng(2)
    progression = ["C", "Am", "F", "G7", "Bdim", "Caug"]
    if encoder != "PitchChordEncoder":  # magenta-js 1.23.1 fails to stack its int N.C. vector
        progression.append("N.C.")
    check_against_js(oracle, model, tmp_path / "chords", [random_melody(rng) for _ in range(4)], chords=progression)


def test_hierarchical_16bar(oracle, tmp_path):
    model = randomize(
        MusicVAE.create("hier-mel_16bar", 32, [48, 48], [32, 32], conductor_sizes=[40, 40], hierarchical_encoder=True),
        seed=4,
    )
    model.export(tmp_path / "hier")
    rng = np.random.default_rng(3)
    check_against_js(oracle, model, tmp_path / "hier", [random_melody(rng, 256) for _ in range(2)])


def published_shape(family: str, bars: int, hierarchical: bool, seed: int) -> MusicVAE:
    """A random-weight model laid out as magenta-js reads a published melody or drum model of `bars`
    bars: with numSegments, a 2-level encoder and a conductor; without, one flat layer of each."""
    args = {"numSteps": 16 * bars, **({"numSegments": bars} if hierarchical else {})}
    if family == "melody":
        converter = converter_from_spec({"type": "MelodyConverter", "args": {**args, "minPitch": 21, "maxPitch": 108}})
    else:
        converter = converter_from_spec({"type": "DrumsConverter", "args": args})
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=24,
        encoder_sizes=(32, 40) if hierarchical else (48,),
        decoder_sizes=(32, 32),
        num_steps=converter.num_steps,
        num_segments=bars if hierarchical else 0,
        hierarchical_encoder=hierarchical,
        conductor_sizes=(36,) if hierarchical else (),
    )
    return randomize(MusicVAE(spec, converter), seed)


@pytest.mark.parametrize(
    ("family", "bars", "hierarchical"),
    [("melody", 4, False), ("melody", 4, True), ("drums", 4, False), ("drums", 4, True), ("melody", 16, False)],
    ids=["mel_4bar_flat", "mel_4bar_hierarchical", "drums_4bar_flat", "drums_4bar_hierarchical", "mel_16bar_flat"],
)
def test_melody_and_drums_of_any_length(oracle, tmp_path, family, bars, hierarchical):
    """The layouts of mel_4bar_*, drums_4bar_* and mel_16bar_* (either one: config.json's numSegments decides)."""
    model = published_shape(family, bars, hierarchical, seed=10 + bars)
    model.export(tmp_path / "model")
    rng = np.random.default_rng(bars)
    steps = 16 * bars
    if family == "melody":
        check_against_js(oracle, model, tmp_path / "model", [random_melody(rng, steps) for _ in range(3)])
    else:  # drum inputs as tensors: see test_drums_2bar_python_roll_meaning
        sequences = [random_drums(rng, steps) for _ in range(3)]
        check_against_js(oracle, model, tmp_path / "model", sequences, js_sequences=False)


@pytest.mark.parametrize("quantization", ["uint8", "uint16"])
def test_quantized_checkpoints(oracle, tmp_path, quantization):
    model = randomize(MusicVAE.create("cat-mel_2bar_small", 32, [64], [48, 48]), seed=5)
    model.export(tmp_path / "q", quantization=quantization)
    loaded = MusicVAE.load(tmp_path / "q")
    rng = np.random.default_rng(4)
    check_against_js(oracle, loaded, tmp_path / "q", [random_melody(rng) for _ in range(4)])
    # and quantisation stays close to the float weights it came from
    inputs = np.stack([loaded.data_converter.to_inputs(random_melody(rng)) for _ in range(4)])
    tol = {"uint8": 0.05, "uint16": 5e-4}[quantization]
    np.testing.assert_allclose(loaded.encode_tensors(inputs)[0], model.encode_tensors(inputs)[0], atol=tol)


def random_trio(rng: np.random.Generator, steps: int) -> NoteSequence:
    """A melody (program 0), a bass line (program 33) and drums of one pitch per class and step
    (magenta-js counts two pitches of one class twice), as one sequence."""
    melody, bass = random_melody(rng, steps, 60, 84), random_melody(rng, steps, 28, 52)
    for note in bass.notes:
        note.program = 33
    drums = [(p, s, s + 1) for s in range(steps) for p in (36, 38, 42, 46, 49) if rng.random() < 0.15]
    melody.notes.extend(bass.notes)
    melody.notes.extend(from_notes(drums, steps, is_drum=True).notes)
    return melody


@pytest.mark.parametrize("bars", [4, 16])
def test_trio(oracle, tmp_path, bars):
    """trio_4bar_lokl_small_q1 and trio_16bar_xl's layout: a 2-level encoder, a conductor and
    one decoder per instrument; labels per instrument exact, notes with magenta-js's programs."""
    converter = TrioConverter(16 * bars, bars)
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=24,
        encoder_sizes=(32, 40),
        decoder_sizes=(32, 32),
        num_steps=converter.num_steps,
        num_segments=bars,
        hierarchical_encoder=True,
        conductor_sizes=(36,),
        split_depths=converter.split_depths,
    )
    model = randomize(MusicVAE(spec, converter), seed=20 + bars)
    model.export(tmp_path / "trio", quantization="uint8")
    model = MusicVAE.load(tmp_path / "trio")
    rng = np.random.default_rng(bars)
    _, labels = check_against_js(oracle, model, tmp_path / "trio", [random_trio(rng, 16 * bars) for _ in range(2)])
    assert labels.shape == (5, 16 * bars, 3)


def test_nade_drums(oracle, tmp_path):
    """drums_2bar_nade_9_q2's layout: a NADE over the 9 drum classes at each step."""
    model = randomize(MusicVAE.create("nade-drums_2bar_reduced", 24, [48], [32, 32]), seed=30)
    model.export(tmp_path / "nade", quantization="uint16")
    model = MusicVAE.load(tmp_path / "nade")
    rng = np.random.default_rng(5)
    sequences = [random_drums(rng) for _ in range(4)]
    _, labels = check_against_js(oracle, model, tmp_path / "nade", sequences, js_sequences=False)
    assert np.unique(labels).size > 2  # the check saw steps of several classes at once


def check_groove_against_js(oracle, model: MusicVAE, folder, sequences, chords=None):
    """GrooVAE: the converter's input tensors, mu, and the greedy decoder's outputs (of mu in one
    graph too: `reconstruct_labels`, and as the drummer runs it: `reconstructor`) and notes."""
    rng = np.random.default_rng(8)
    inputs = np.stack([model.data_converter.to_inputs(s) for s in sequences])
    controls = model.controls(chords)
    mu, _ = model.encode_tensors(inputs, controls)
    z = np.concatenate([mu, rng.standard_normal((3, model.z_size)).astype(np.float32)])
    timed = [js_timed_sequence(s) for s in sequences]
    ref = oracle.run(folder, timed_sequences=timed, decode_outputs=z.tolist(), chords=chords)

    np.testing.assert_allclose(np.array(ref["converted"]), inputs, atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.array(ref["timed_mu"]), mu, atol=1e-4, rtol=0)
    outputs, js_outputs = model.decode_labels(z, controls=controls), np.array(ref["outputs"])
    drums = model.data_converter.num_drums
    np.testing.assert_array_equal(js_outputs[..., :drums], outputs[..., :drums])  # hits
    np.testing.assert_allclose(js_outputs[..., drums:], outputs[..., drums:], atol=1e-4, rtol=0)  # velocities, offsets
    if chords is None:  # mu and its greedy decode in one graph, and that graph on TFLite (the drummer's path)
        lite = model.reconstructor()
        js_rebuilt = js_outputs[: len(inputs)]
        for rebuilt in (model.reconstruct_labels(inputs), np.stack([lite(x) for x in inputs])):
            np.testing.assert_array_equal(js_rebuilt[..., :drums], rebuilt[..., :drums])
            np.testing.assert_allclose(js_rebuilt[..., drums:], rebuilt[..., drums:], atol=1e-4, rtol=0)
    ours = [[[n.pitch, n.start_time, n.end_time, n.velocity] for n in s.notes] for s in model.decode(z, chords=chords)]
    assert [len(s) for s in ours] == [len(s) for s in ref["timed_notes"]]
    for mine, theirs in zip(ours, ref["timed_notes"]):
        np.testing.assert_allclose(np.array(theirs).reshape(-1, 4), np.array(mine).reshape(-1, 4), atol=1e-4, rtol=0)
    return inputs, outputs


def test_groovae_4bar(oracle, tmp_path):
    model = randomize(MusicVAE.create("groovae_4bar", 32, [64], [48, 48]), seed=6)
    model.export(tmp_path / "groove")
    rng = np.random.default_rng(5)
    sequences = [random_groove(rng, bars=4, qpm=qpm) for qpm in (120.0, 96.0, 137.0, 120.0)]
    inputs, outputs = check_groove_against_js(oracle, model, tmp_path / "groove", sequences)
    assert inputs[..., 18:].any()  # the inputs carried timing, and the outputs hit drums
    assert outputs[..., :9].any()


def test_groovae_humanize(oracle, tmp_path):
    model = randomize(MusicVAE.create("groovae_2bar_humanize", 32, [64], [48, 48]), seed=7)
    model.export(tmp_path / "humanize")
    rng = np.random.default_rng(6)
    inputs, _ = check_groove_against_js(oracle, model, tmp_path / "humanize", [random_groove(rng) for _ in range(4)])
    assert not inputs[..., 9:].any()  # hits only


def test_groovae_tap2drum(oracle, tmp_path):
    # Taps come from every note, a piano's too (is_drum false), as magenta-js reads them.
    model = randomize(MusicVAE.create("groovae_2bar_tap_fixed_velocity", 32, [64], [48, 48]), seed=8)
    model.export(tmp_path / "tap")
    rng = np.random.default_rng(7)
    sequences = [random_groove(rng) for _ in range(4)]
    for seq in sequences:
        seq.notes.add(pitch=64, velocity=127, start_time=0.51, end_time=0.7, is_drum=False)
    inputs, _ = check_groove_against_js(oracle, model, tmp_path / "tap", sequences)
    assert inputs[..., [3, 21]].any()  # hits and offsets of taps on the open hi-hat class
    assert not np.delete(inputs, [3, 21], axis=-1).any()  # and nothing else


def test_groovae_on_chords(oracle, tmp_path):
    # No published GrooVAE has chords, but magenta-js conditions any decoder on them: so does hmm_live.
    chords = ChordEncoder("PitchChordEncoder")
    converter = GrooveConverter(32, humanize=True)
    spec = NetworkSpec(
        input_depth=27,
        output_depth=27,
        z_size=32,
        encoder_sizes=(64,),
        decoder_sizes=(48, 48),
        num_steps=32,
        control_depth=chords.depth,
    )
    model = randomize(MusicVAE(spec, converter, chords), seed=9)
    model.export(tmp_path / "chords")
    rng = np.random.default_rng(8)
    grooves = [random_groove(rng) for _ in range(3)]
    check_groove_against_js(oracle, model, tmp_path / "chords", grooves, chords=["C", "Am", "F", "G7"])


def multitrack_model(config: str, seed: int, end_bias: float) -> MusicVAE:
    """A random-weight model of the multitrack* layout (Magenta's hier-multiperf_vel_1bar configs:
    8 tracks of 64 tokens, a 2-level encoder, a conductor), with tiny layers; `end_bias` on the end
    token's logit, so that some decoded tracks end early and others play notes."""
    cfg = get_config(config)
    converter = converter_from_spec(cfg.data_converter)
    chords = ChordEncoder(cfg.chord_encoder) if cfg.chord_encoder else None
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=16,
        encoder_sizes=(24, 28),
        decoder_sizes=(20, 20),
        num_steps=converter.num_steps,
        control_depth=chords.depth if chords else 0,
        num_segments=8,
        hierarchical_encoder=True,
        conductor_sizes=(24,),
    )
    model = randomize(MusicVAE(spec, converter, chords), seed)
    bias = model.network.magenta_weights()["core_decoder/decoder/output_projection/bias"]
    bias[converter.end_token].assign(end_bias)
    return model


def multitrack_sequences(rng: np.random.Generator) -> list[NoteSequence]:
    """Tracks of every length: a trio, two drum kits among other instruments (magenta-js's sort puts
    them last in its own order), ten instruments (two dropped), one track too long (truncated)."""
    return [
        random_multitrack(rng, [0, 33, None], 5),
        random_multitrack(rng, [5, None, None, 40, 5], 3),
        random_multitrack(rng, list(range(10)), 2),
        random_multitrack(rng, [None, 24], 40),
    ]


@pytest.mark.parametrize(
    ("config", "chords", "seed", "end_bias"),
    [("hier-multiperf_vel_1bar_med", None, 40, 0.4), ("hier-multiperf_vel_1bar_med_chords", ["Am"], 41, 0.5)],
    ids=["multitrack", "multitrack_chords"],
)
def test_multitrack(oracle, tmp_path, config, chords, seed, end_bias):
    """multitrack* and multitrack*_chords: magenta-js's tokens, mu (its tracks read up to their end
    tokens, one sequence at a time), greedy labels, and notes with instruments and programs."""
    model = multitrack_model(config, seed, end_bias)
    model.export(tmp_path / "multitrack", quantization="uint8")
    model = MusicVAE.load(tmp_path / "multitrack")
    sequences = multitrack_sequences(np.random.default_rng(9))
    _, labels = check_against_js(oracle, model, tmp_path / "multitrack", sequences, chords=chords)
    assert (inputs_labels(model, sequences) == -1).any()  # some track was shorter than its rows
    assert (labels == model.data_converter.end_token).any()  # some decoded tracks ended early
    assert any(model.data_converter.from_labels(row).notes for row in labels)  # and some played notes


def melody_control_sequences(rng: np.random.Generator) -> list[NoteSequence]:
    """Random melodies and the contour's edge cases: silence, one note, one note on the last step,
    a repeated pitch, two notes at once (the higher one counts), a first direction late."""
    return [random_melody(rng) for _ in range(4)] + [
        from_notes([], 32),
        from_notes([(60, 5, 9)], 32),
        from_notes([(60, 31, 32)], 32),
        from_notes([(62, 0, 4), (62, 8, 12), (62, 30, 32)], 32),
        from_notes([(60, 2, 6), (67, 2, 4), (64, 10, 11), (64, 20, 21), (59, 31, 32)], 32),
    ]


def melody_control_model(
    kind: str, seed: int, boolean: bool = False, chords=None, extra=(), scale: float = 0.15
) -> MusicVAE:
    """A tiny 2-bar melody-control model (mel_rhythm_2bar_tiny_*, mel_shape_*, mel_2bar_multicontrol_*)."""
    converter = converter_from_spec({"type": kind, "args": {"numSteps": 32, "minPitch": 21, "maxPitch": 108}})
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=16,
        encoder_sizes=(32,),
        decoder_sizes=(24, 24),
        num_steps=32,
        control_depth=(chords.depth if chords else 0) + sum(depth for _, depth in extra),
        boolean_output=boolean,
    )
    return randomize(MusicVAE(spec, converter, chords, extra_controls=extra), seed, scale)


def test_melody_rhythm(oracle, tmp_path):
    """mel_rhythm_2bar_tiny_*: onsets in, a boolean decoder's onsets out, written as snare hits."""
    model = melody_control_model("MelodyRhythmConverter", seed=50, boolean=True)
    model.export(tmp_path / "rhythm", quantization="uint8")
    model = MusicVAE.load(tmp_path / "rhythm")
    sequences = melody_control_sequences(np.random.default_rng(10))
    _, labels = check_against_js(oracle, model, tmp_path / "rhythm", sequences)
    assert 0 < labels.mean() < 1  # some steps hit, some not


def test_melody_shape(oracle, tmp_path):
    """mel_shape_2bar_tiny_*: the contour in (magenta-js's tensor from its own melody too), classes out."""
    model = melody_control_model("MelodyShapeConverter", seed=51)
    model.export(tmp_path / "shape")
    sequences = melody_control_sequences(np.random.default_rng(11))
    _, labels = check_against_js(oracle, model, tmp_path / "shape", sequences)
    assert len(np.unique(labels)) == 3


def test_melody_on_chords_and_controls(oracle, tmp_path):
    """mel_2bar_multicontrol_tiny_*: a melody on chords, then rhythm, shape and register, concatenated
    in that order; the controls taken from a melody, as one would."""
    model = melody_control_model("MelodyConverter", 52, chords=ChordEncoder("PitchChordEncoder"), extra=MULTICONTROL)
    model.export(tmp_path / "multicontrol", quantization="uint16")
    model = MusicVAE.load(tmp_path / "multicontrol")
    rng = np.random.default_rng(12)
    controls = melody_controls(random_melody(rng))
    assert controls["register"].any()
    assert controls["rhythm"].any()
    sequences = [random_melody(rng) for _ in range(4)]
    check_against_js(oracle, model, tmp_path / "multicontrol", sequences, ["C", "G7"], extra_controls=controls)
