"""hmm_live's MusicVAE against @magenta/music 1.23.1 on the same random-weight checkpoints.

mu must agree to 1e-4 and greedy decoder labels exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import MusicVAE
from hmm_live.models.musicvae.network import NetworkSpec
from hmm_live.music import (
    ChordEncoder,
    GrooveConverter,
    MelodyConverter,
    NoteSequence,
    TrioConverter,
    converter_from_spec,
    from_notes,
)
from tests.support import (
    js_sequence,
    js_timed_sequence,
    note_triples,
    random_drums,
    random_groove,
    random_melody,
    randomize,
)

pytestmark = pytest.mark.timeout(1200)


def check_against_js(oracle, model: MusicVAE, folder, sequences, chords=None, js_sequences=True):
    """Encode and greedily decode with both implementations and compare."""
    rng = np.random.default_rng(7)
    inputs = np.stack([model.data_converter.to_inputs(s) for s in sequences])
    controls = model.controls(chords)
    mu, _ = model.encode_tensors(inputs, controls)
    z = np.concatenate([mu, rng.standard_normal((3, model.z_size)).astype(np.float32)])
    job = {"inputs": inputs.tolist(), "z": z.tolist(), "chords": chords}
    job |= {"split_depths": list(model.spec.split_depths) or None, "multi_label": bool(model.spec.nade_hidden)}
    if js_sequences:
        job["sequences"] = [js_sequence(s) for s in sequences]
    ref = oracle.run(folder, **job)

    np.testing.assert_allclose(np.array(ref["mu"]), mu, atol=1e-4, rtol=0)
    if js_sequences:  # magenta-js's own NoteSequence -> tensor path agrees on these inputs
        np.testing.assert_allclose(np.array(ref["sequence_mu"]), mu, atol=1e-4, rtol=0)
    labels = model.decode_labels(z, controls=controls)
    np.testing.assert_array_equal(np.array(ref["labels"]), labels)
    ours = model.decode(z, chords=chords)
    assert [note_triples(s) for s in ours] == ref["notes"]
    assert [[[n.instrument, n.program, n.is_drum] for n in s.notes] for s in ours] == ref["instruments"]
    return mu, labels


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
