"""GrooVAE through Magenta's API: performances (velocities, micro-timing) out of encode, decode, sample
and interpolate; its checkpoints in every form. Agreement with magenta-js: test_conformance.py."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import MusicVAE
from hmm_live.models.musicvae.groove_decoder import GrooveDecoder
from tests.support import random_groove, randomize
from tests.tf1_checkpoint import write_tf1_checkpoint

STEP = 0.125  # seconds per 16th at 120 qpm


@pytest.fixture(scope="module")
def tap2drum():
    return randomize(MusicVAE.create("groovae_2bar_tap_fixed_velocity", 16, [32], [24, 24]), seed=21)


@pytest.fixture(scope="module")
def grooves():
    rng = np.random.default_rng(9)
    return [random_groove(rng) for _ in range(3)]


def is_performance(seq) -> bool:
    """Drum notes of more than one velocity, some off the 16th grid."""
    off_grid = [abs(n.start_time / STEP - round(n.start_time / STEP)) > 1e-3 for n in seq.notes]
    return all(n.is_drum for n in seq.notes) and len({n.velocity for n in seq.notes}) > 1 and any(off_grid)


def test_decode_writes_performances(tap2drum, grooves):
    _, mu, _ = tap2drum.encode(grooves)
    decoded = tap2drum.decode(mu)
    assert all(is_performance(s) for s in decoded)
    assert all(s.tempos[0].qpm == 120 for s in decoded)


def test_the_decoder_writes_hits_velocities_and_offsets(tap2drum, grooves):
    outputs = tap2drum.decode_labels(tap2drum.encode(grooves)[1])
    assert outputs.shape == (3, 32, 27)
    assert set(np.unique(outputs[..., :9])) == {0.0, 1.0}
    assert ((outputs[..., 9:18] > 0) & (outputs[..., 9:18] < 1)).all()  # sigmoid
    assert ((outputs[..., 18:] > -1) & (outputs[..., 18:] < 1)).all()  # tanh


def test_sample_and_interpolate_write_performances(tap2drum, grooves):
    assert all(is_performance(s) for s in tap2drum.sample(3, temperature=0.5, seed=1))
    morph = tap2drum.interpolate(grooves[0], grooves[1], 4)
    assert len(morph) == 4
    assert all(is_performance(s) for s in morph)


def test_sampling_at_a_temperature_repeats_with_its_seed(tap2drum):
    z = np.random.default_rng(1).standard_normal((4, tap2drum.z_size)).astype(np.float32)
    first = tap2drum.decode_labels(z, temperature=1.0, seed=5)
    np.testing.assert_array_equal(tap2drum.decode_labels(z, temperature=1.0, seed=5), first)
    assert (tap2drum.decode_labels(z, temperature=1.0, seed=6) != first).any()


def test_a_decode_can_stop_after_one_bar(tap2drum):
    z = np.random.default_rng(2).standard_normal((2, tap2drum.z_size)).astype(np.float32)
    np.testing.assert_array_equal(tap2drum.decode_labels(z, length=16), tap2drum.decode_labels(z)[:, :16])


def test_a_reconstruction_is_the_greedy_decode_of_mu(tap2drum, grooves):
    inputs = np.stack([tap2drum.data_converter.to_inputs(g) for g in grooves])
    mu, _ = tap2drum.encode_tensors(inputs)
    np.testing.assert_array_equal(tap2drum.reconstruct_labels(inputs, 16), tap2drum.decode_labels(mu, length=16))


@pytest.mark.parametrize("form", ["own", "magenta-js", "tf1"])
def test_every_checkpoint_form_loads_a_groovae(tap2drum, grooves, tmp_path, form):
    if form == "own":
        loaded = MusicVAE.load(tap2drum.save(tmp_path / "m"))
    elif form == "magenta-js":
        loaded = MusicVAE.load(tap2drum.export(tmp_path / "m"))
    else:
        prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-1", tap2drum.weights())
        loaded = MusicVAE.load(prefix, config="groovae_2bar_tap_fixed_velocity")
    assert isinstance(loaded.network.decoder, GrooveDecoder)
    assert loaded.data_converter.spec() == tap2drum.data_converter.spec()
    _, mu, _ = loaded.encode(grooves)
    np.testing.assert_allclose(mu, tap2drum.encode(grooves)[1], atol=1e-6)
    np.testing.assert_array_equal(loaded.decode_labels(mu), tap2drum.decode_labels(mu))
