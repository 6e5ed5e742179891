"""Loading and saving every checkpoint form, and clear errors for broken ones."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest

from hmm_live import CheckpointError, ConfigError, MusicVAE, UnsupportedModelError
from hmm_live.models.musicvae import checkpoints
from tests.support import random_melody, randomize
from tests.tf1_checkpoint import write_tf1_checkpoint


@pytest.fixture(scope="module")
def small():
    return randomize(MusicVAE.create("cat-mel_2bar_small", 16, [32], [24, 24]), seed=11)


@pytest.fixture(scope="module")
def melodies():
    rng = np.random.default_rng(5)
    return [random_melody(rng) for _ in range(4)]


def same_outputs(a: MusicVAE, b: MusicVAE, melodies) -> None:
    _, mu_a, sigma_a = a.encode(melodies)
    _, mu_b, sigma_b = b.encode(melodies)
    np.testing.assert_allclose(mu_a, mu_b, atol=1e-6)
    np.testing.assert_allclose(sigma_a, sigma_b, atol=1e-6)
    np.testing.assert_array_equal(a.decode_labels(mu_a), b.decode_labels(mu_b))


def test_tf1_checkpoint_matches_magenta_js_export(oracle, small, melodies, tmp_path):
    """Same weights as a TF1 checkpoint (Magenta names) and as magenta-js: same outputs,
    here and in @magenta/music."""
    prefix = write_tf1_checkpoint(tmp_path / "tf" / "model.ckpt-12345", small.weights())
    small.export(tmp_path / "js")
    from_tf = MusicVAE.load(prefix, config="cat-mel_2bar_small")
    from_js = MusicVAE.load(tmp_path / "js")
    assert from_tf.config == "cat-mel_2bar_small"
    assert from_tf.spec == small.spec
    same_outputs(from_tf, from_js, melodies)
    inputs = np.stack([from_tf.data_converter.to_inputs(m) for m in melodies])
    mu, _ = from_tf.encode_tensors(inputs)
    ref = oracle.run(tmp_path / "js", inputs=inputs.tolist(), z=mu.tolist())
    np.testing.assert_allclose(ref["mu"], mu, atol=1e-4)
    np.testing.assert_array_equal(ref["labels"], from_tf.decode_labels(mu))


def test_tf1_folder_and_tar(small, melodies, tmp_path):
    folder = tmp_path / "cat-mel_2bar_small"
    write_tf1_checkpoint(folder / "model.ckpt-9", small.weights())
    write_tf1_checkpoint(folder / "model.ckpt-10", small.weights())
    same_outputs(MusicVAE.load(folder, config="cat-mel_2bar_small"), small, melodies)
    tar = tmp_path / "cat-mel_2bar_small.tar"
    with tarfile.open(tar, "w") as t:
        t.add(folder, arcname="cat-mel_2bar_small")
    same_outputs(MusicVAE.load(tar, config="cat-mel_2bar_small"), small, melodies)


def test_tf1_two_layer_encoder_and_hierdec(tmp_path):
    """hierdec-mel_16bar: 2-layer flat encoder (Python only) and a conductor."""
    model = randomize(MusicVAE.create("hierdec-mel_16bar", 16, [24, 24], [16, 16], conductor_sizes=[20, 20]), seed=12)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-1", model.weights())
    loaded = MusicVAE.load(prefix, config="hierdec-mel_16bar")
    assert loaded.spec == model.spec
    same_outputs(loaded, model, [random_melody(np.random.default_rng(1), 256)])
    with pytest.raises(ConfigError, match="more than one layer"):
        loaded.export(tmp_path / "js")


def test_own_format_round_trip_is_atomic(small, melodies, tmp_path):
    small.save(tmp_path / "m")
    same_outputs(MusicVAE.load(tmp_path / "m"), small, melodies)
    assert json.loads((tmp_path / "m" / "hmm_live.json").read_text())["config"] == "cat-mel_2bar_small"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_tf1_without_config_names_the_choice(small, tmp_path):
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-1", small.weights())
    with pytest.raises(ConfigError, match="pass config="):
        MusicVAE.load(prefix)
    with pytest.raises(ConfigError, match="unknown MusicVAE config 'cat-mel_3bar'"):
        MusicVAE.load(prefix, config="cat-mel_3bar")


@pytest.mark.parametrize("name", ["nade-drums_2bar_full", "groovae_2bar_hits_control_tfds", "flat-trio_16bar"])
def test_unsupported_configs_say_so(small, tmp_path, name):
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-1", small.weights())
    with pytest.raises(UnsupportedModelError, match="does not support"):
        MusicVAE.load(prefix, config=name)


def test_tf1_trio_and_nade(tmp_path):
    """hier-trio_16bar (a decoder per instrument under a conductor) and nade-drums_2bar_reduced,
    under Python Magenta's variable names, load to the same network."""
    trio = MusicVAE.create("hier-trio_16bar", 16, [24, 24], [16], conductor_sizes=[20], hierarchical_encoder=True)
    nade = MusicVAE.create("nade-drums_2bar_reduced", 16, [24], [16, 16])
    for name, model in (("hier-trio_16bar", trio), ("nade-drums_2bar_reduced", nade)):
        randomize(model, seed=13)
        prefix = write_tf1_checkpoint(tmp_path / name / "model.ckpt-1", model.weights())
        loaded = MusicVAE.load(prefix, config=name)
        assert loaded.spec == model.spec
        z = np.random.default_rng(2).standard_normal((3, 16)).astype(np.float32)
        np.testing.assert_array_equal(loaded.decode_labels(z), model.decode_labels(z))


def test_python_variable_names_of_trio_and_nade(tmp_path):
    trio = MusicVAE.create("hier-trio_16bar", 16, [24, 24], [16], conductor_sizes=[20], hierarchical_encoder=True)
    nade = MusicVAE.create("nade-drums_2bar_reduced", 16, [24], [16, 16])
    assert "core_decoder/core_decoder_2/decoder/output_projection/bias" in trio.weights()
    assert "decoder/nade/w_dec_t" in nade.weights()


def test_a_nade_checkpoint_with_a_categorical_config_is_refused(small, tmp_path):
    nade = randomize(MusicVAE.create("nade-drums_2bar_reduced", 16, [24], [16, 16]), seed=3)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-1", nade.weights())
    with pytest.raises(CheckpointError, match="wrong config"):
        MusicVAE.load(prefix, config="cat-drums_2bar_small")


def test_a_trio_checkpoint_with_a_melody_config_is_refused(small, tmp_path):
    trio = MusicVAE.create("hier-trio_16bar", 16, [24, 24], [16], conductor_sizes=[20], hierarchical_encoder=True)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-1", trio.weights())
    with pytest.raises(CheckpointError, match="wrong config"):
        MusicVAE.load(prefix, config="hier-mel_16bar")


def test_unsupported_variables_say_so(small, tmp_path):
    weights = {**small.weights(), "control_preprocessing/cell_0/x/kernel": np.zeros((9, 4), np.float32)}
    checkpoints.write_js(tmp_path / "control", weights, small.js_config())
    with pytest.raises(UnsupportedModelError, match="control-preprocessing"):
        MusicVAE.load(tmp_path / "control")


def test_magenta_js_config_fields_hmm_live_lacks_are_named(small, tmp_path):
    checkpoints.write_js(tmp_path / "m", small.weights(), {**small.js_config(), "conditionOnKey": True})
    with pytest.raises(UnsupportedModelError, match="field 'conditionOnKey' asks for key conditioning"):
        MusicVAE.load(tmp_path / "m")


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"extraControls": [{"name": "rhythm", "depth": 2}]}, CheckpointError, "expects 0 control values.*rhythm of 2"),
        ({"extraControls": [{"name": "rhythm", "depth": 0}]}, ConfigError, r"extraControls' item 0 field 'depth'"),
        ({"extraControls": [{"name": "a", "depth": 1}] * 2}, ConfigError, "the control 'a' appears twice"),
        ({"extraControls": {"rhythm": 1}}, ConfigError, "extraControls"),
        ({"useBooleanDecoder": True}, CheckpointError, "MelodyConverter cannot use a NADE or boolean decoder"),
        ({"useBooleanDecoder": "yes"}, ConfigError, "useBooleanDecoder"),
    ],
    ids=["depths-unlike-the-weights", "depth-0", "twice", "not-a-list", "boolean-for-classes", "boolean-not-bool"],
)
def test_bad_extra_controls_and_decoder_kinds_are_named(small, tmp_path, fields, error, message):
    checkpoints.write_js(tmp_path / "m", small.weights(), {**small.js_config(), **fields})
    with pytest.raises(error, match=message):
        MusicVAE.load(tmp_path / "m")


def test_missing_and_truncated_shards(small, tmp_path):
    small.export(tmp_path / "m")
    shard = tmp_path / "m" / "group1-shard1of1"
    data = shard.read_bytes()
    shard.write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match=r"variable .* needs bytes .* group1-shard1of1"):
        MusicVAE.load(tmp_path / "m")
    shard.write_bytes(data + b"\0" * 8)
    with pytest.raises(CheckpointError, match="manifest and shards do not match"):
        MusicVAE.load(tmp_path / "m")
    shard.unlink()
    with pytest.raises(CheckpointError, match="group1-shard1of1 cannot be read"):
        MusicVAE.load(tmp_path / "m")


def test_manifest_shape_mismatch_names_variables(small, tmp_path):
    weights = small.weights()
    name = "decoder/output_projection/kernel"
    weights[name] = weights[name][:, :40]
    del weights["encoder/sigma/bias"]
    checkpoints.write_js(tmp_path / "m", weights, small.js_config())
    with pytest.raises(CheckpointError) as err:
        MusicVAE.load(tmp_path / "m")
    assert "encoder/sigma/bias" in str(err.value)
    assert name in str(err.value)


def test_wrong_config_for_weights(small, tmp_path):
    drums = {"type": "MusicVAE", "dataConverter": {"type": "DrumsConverter", "args": {"numSteps": 32}}}
    checkpoints.write_js(tmp_path / "m", small.weights(), drums)
    with pytest.raises(CheckpointError, match=r"wrong config|too few"):
        MusicVAE.load(tmp_path / "m")


def test_broken_files_and_paths(small, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        MusicVAE.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no MusicVAE checkpoint"):
        MusicVAE.load(tmp_path / "empty")
    small.export(tmp_path / "m")
    (tmp_path / "m" / "weights_manifest.json").write_text("[{")
    with pytest.raises(CheckpointError, match=r"weights_manifest.json is not valid JSON"):
        MusicVAE.load(tmp_path / "m")
    prefix = write_tf1_checkpoint(tmp_path / "tf" / "model.ckpt-1", small.weights())
    data = next((tmp_path / "tf").glob("*.data-*"))
    data.write_bytes(data.read_bytes()[:64])
    with pytest.raises(CheckpointError, match=r"model.ckpt-1 cannot be read"):
        MusicVAE.load(prefix, config="cat-mel_2bar_small")
    bad_tar = tmp_path / "x.tar"
    bad_tar.write_bytes(b"not a tar")
    with pytest.raises(CheckpointError, match=r"x.tar is not a checkpoint"):
        MusicVAE.load(bad_tar, config="cat-mel_2bar_small")


def test_failed_save_keeps_previous(small, tmp_path, monkeypatch):
    small.save(tmp_path / "m")
    before = (tmp_path / "m" / "group1-shard1of1").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints, "_write_json", boom)
    with pytest.raises(OSError):
        small.save(tmp_path / "m")
    assert (tmp_path / "m" / "group1-shard1of1").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
