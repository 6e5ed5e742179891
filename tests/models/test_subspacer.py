"""The Subspacer on the shipped melody model: fitting, decoding, saving, aligning a retrained map."""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest

from hmm_live import CheckpointError, ConfigError, HmmLiveError, MusicVAE, SequenceError
from hmm_live.models import TrainingBusyError
from hmm_live.models.responder import Responder
from hmm_live.models.subspacer import LAYOUT_EPOCHS, MAX_EPOCHS, Subspacer
from hmm_live.music import from_notes
from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session


def test_subspacer_rejects_bad_input(musicvae, subspacer):
    for dims in (0, 1000, 2.5):
        with pytest.raises(ConfigError, match="latent_dims"):
            Subspacer(musicvae, latent_dims=dims)
    with pytest.raises(SequenceError, match="no clips"):
        subspacer.codes([])
    with pytest.raises(SequenceError, match="four bars has notes up to step 60, longer than the model's 32 steps"):
        subspacer.codes(ClipLibrary(4, [("four bars", from_notes([(60, 60, 62)], 64))]))
    codes = np.zeros((3, musicvae.z_size), np.float32)
    codes[1, 5] = np.nan
    with pytest.raises(SequenceError, match=r"NaN.*\[1\]"):
        subspacer.codes(codes)
    with pytest.raises(SequenceError, match="shape"):
        subspacer.codes(np.zeros((3, 7)))
    with pytest.raises(ConfigError, match="points"):
        subspacer.decode([[0.0, np.nan]])
    with pytest.raises(HmmLiveError, match="not trained"):
        Subspacer(musicvae).decode([0.0, 0.0])


def test_subspacer_separates_two_kinds_of_clips(subspacer, library):
    mu, sigma = subspacer.encode(library)
    assert mu.shape == sigma.shape == (len(library), 2)
    assert (sigma > 0).all()
    kinds = np.array([name.startswith("long") for name in library.names])
    # the two kinds lie apart: a line through the midpoint of their centres splits them
    a, b = mu[kinds].mean(0), mu[~kinds].mean(0)
    side = (mu - (a + b) / 2) @ (a - b) > 0
    assert (side == kinds).mean() >= 0.9
    np.testing.assert_allclose(subspacer.clip_mu, mu, atol=1e-5)


def test_subspacer_decodes_to_music(subspacer, musicvae, library):
    z = subspacer.decode(subspacer.clip_mu[:2])
    assert z.shape == (2, musicvae.z_size)
    assert np.isfinite(z).all()
    out = subspacer.generate(subspacer.clip_mu[:2])  # an "eighths" clip and a "long" one
    assert [len(seq.notes) for seq in out] == [16, 8]
    again = subspacer.generate(subspacer.clip_mu[:2], temperature=0.5, seed=4)
    assert [len(s.notes) for s in again] == [
        len(s.notes) for s in subspacer.generate(subspacer.clip_mu[:2], temperature=0.5, seed=4)
    ]


def test_fit_is_deterministic_and_takes_callbacks(musicvae, library):
    seen = []
    runs = [Subspacer(musicvae, 4, seed=7) for _ in range(2)]
    histories = [
        s.fit(library, epochs=3, callbacks=[lambda epoch, logs: seen.append((epoch, logs["loss"]))]) for s in runs
    ]
    assert histories[0]["loss"] == histories[1]["loss"]
    assert len(seen) == 6
    np.testing.assert_array_equal(runs[0].clip_mu, runs[1].clip_mu)
    assert runs[0].clip_mu.shape == (len(library), 4)


def test_save_load_and_identity(tmp_path, subspacer, responder, musicvae, library):
    subspacer.save(tmp_path / "sub")
    responder.save(tmp_path / "resp")
    sub = Subspacer.load(tmp_path / "sub", musicvae)
    resp = Responder.load(tmp_path / "resp", sub)
    np.testing.assert_array_equal(sub.decode([[0.3, -0.2]]), subspacer.decode([[0.3, -0.2]]))
    bar = library[0].bar(0)
    np.testing.assert_array_equal(resp.predict(bar), responder.predict(bar))
    other = MusicVAE.create(
        "cat-mel_2bar_small", z_size=musicvae.z_size, encoder_sizes=[64], decoder_sizes=[64], seed=0
    )
    with pytest.raises(CheckpointError, match="another MusicVAE"):
        Subspacer.load(tmp_path / "sub", other)
    with pytest.raises(CheckpointError, match="trained for subspacer"):
        Responder.load(tmp_path / "resp", Subspacer(musicvae))


def test_damaged_saves_give_clear_errors(tmp_path, subspacer, musicvae):
    folder = subspacer.save(tmp_path / "sub")
    data = (folder / "weights.npz").read_bytes()
    (folder / "weights.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged subspacer"):
        Subspacer.load(folder, musicvae)
    (folder / "weights.npz").unlink()
    with pytest.raises(CheckpointError, match=r"weights.npz is missing"):
        Subspacer.load(folder, musicvae)
    with pytest.raises(CheckpointError, match="not a saved responder"):
        Responder.load(subspacer.save(tmp_path / "again"), subspacer)


def test_background_fit_swaps_weights_atomically(musicvae, library):
    sub = Subspacer(musicvae, 2, seed=2)
    sub.fit(library, epochs=2)
    old = sub.fingerprint()
    expected_old = sub.decode([[0.1, 0.2]])
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(sub.decode([[0.1, 0.2]]))

    t = threading.Thread(target=reader)
    t.start()
    try:
        thread = sub.fit_in_background(library, epochs=40)
        with pytest.raises(TrainingBusyError, match="already training"):
            sub.fit(library, epochs=1)
        thread.join(60)
    finally:
        stop.set()
        t.join()
    assert thread.error is None
    assert len(thread.result["loss"]) == 40
    expected_new = sub.decode([[0.1, 0.2]])
    assert sub.fingerprint() != old
    assert len(seen) > 1
    for z in seen:  # every read is exactly the old model's or the new one's, never a mix
        assert (z == expected_old).all() or (z == expected_new).all()
    for bad in ({"epoch": 3}, {"epochs": 0}):  # refused in the thread: the lock is released all the same
        thread = sub.fit_in_background(library, **bad)
        thread.join(60)
        assert isinstance(thread.error, (TypeError, ConfigError))
        assert not sub.training
    assert len(sub.fit(library, epochs=1)["loss"]) == 1  # and the next fit runs


@pytest.fixture(scope="module")
def all_but_last(library):
    return ClipLibrary(2, [(clip.name, clip.sequence) for clip in list(library)[:-1]])


@pytest.fixture(scope="module")
def first_map(musicvae, all_but_last):
    """The default fit (until the clips decode back); the budget is there for slow machines."""
    sub = Subspacer(musicvae, 2, seed=1)
    sub.fit(all_but_last, time_budget=120)
    return sub


def movement(old: Subspacer, new: Subspacer) -> float:
    """Median distance the old map's clips moved, over the old map's spread (the RMS distance
    of its clip means from their centroid)."""
    rows = [new.clip_names.index(name) for name in old.clip_names]
    spread = np.sqrt(((old.clip_mu - old.clip_mu.mean(0)) ** 2).sum(1).mean())
    return float(np.median(np.linalg.norm(new.clip_mu[rows] - old.clip_mu, axis=1)) / spread)


def test_default_fit_stops_once_the_clips_decode_back(first_map):
    info = first_map.info
    assert info["stopped"] == "converged"
    assert info["decodes_back"] >= 0.95
    assert info["epochs"] < MAX_EPOCHS


def test_decoding_back_is_what_musicvae_keeps(first_map, musicvae, all_but_last):
    """A clip decodes back when its own point decodes to what MusicVAE decodes its code to."""
    points = musicvae.decode_labels(first_map.decode(first_map.clip_mu))
    own = musicvae.decode_labels(musicvae.encode(all_but_last.sequences())[1])
    back = first_map.decodes_back(all_but_last)
    np.testing.assert_array_equal(back, (points == own).all(1))
    assert back.mean() == first_map.info["decodes_back"]


def test_a_time_budget_stops_the_settling_but_never_the_layout(musicvae, library):
    seen = []
    sub = Subspacer(musicvae, 2, seed=1)
    history = sub.fit(library, time_budget=1e-9, callbacks=[lambda epoch, logs: seen.append(epoch)])
    assert sub.info["stopped"] == "time budget"
    assert sub.info["epochs"] == LAYOUT_EPOCHS + 1
    assert len(history["loss"]) == LAYOUT_EPOCHS + 1
    assert seen == list(range(LAYOUT_EPOCHS + 1))


def test_fixed_epochs_and_callbacks_stop_a_fit_as_before(musicvae, library):
    sub = Subspacer(musicvae, 2, seed=1)
    sub.fit(library, epochs=3)
    assert sub.info["stopped"] == "epochs"
    assert sub.info["epochs"] == 3
    assert 0.0 <= sub.info["decodes_back"] <= 1.0

    class StopAtTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 1

    sub.fit(library, callbacks=[StopAtTwo()])
    assert sub.info["stopped"] == "callback"
    assert sub.info["epochs"] == 2


def test_fit_rejects_bad_budgets_and_maps(musicvae, library, first_map):
    sub = Subspacer(musicvae, 2)
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="time_budget must be > 0 seconds, got"):
            sub.fit(library, time_budget=bad)
    with pytest.raises(ConfigError, match=r"until .* must be in \(0, 1\], got 1.5"):
        sub.fit(library, until=1.5)
    with pytest.raises(ConfigError, match="epochs must be a whole number >= 1, got 0"):
        sub.fit(library, epochs=0)
    with pytest.raises(ConfigError, match="align_to must be a subspacer of this shape"):
        Subspacer(musicvae, 3).fit(library, align_to=first_map)
    with pytest.raises(ConfigError, match="align_to must be a trained Subspacer"):
        sub.fit(library, align_to=Subspacer(musicvae, 2))


def test_a_retrain_on_the_same_clips_keeps_them_in_place(first_map, musicvae, all_but_last):
    again = Subspacer(musicvae, 2, seed=2)
    again.fit(all_but_last, align_to=first_map, time_budget=120)
    assert again.info["aligned_on"] == len(all_but_last)
    assert movement(first_map, again) <= 0.1


def test_a_retrain_with_a_clip_added_keeps_the_old_clips_near(first_map, musicvae, library):
    more = Subspacer(musicvae, 2, seed=2)
    more.fit(library, align_to=first_map, time_budget=120)
    assert more.info["aligned_on"] == len(library) - 1
    assert movement(first_map, more) <= 0.15
    assert more.info["decodes_back"] >= 0.95


def test_an_aligned_map_encodes_and_decodes_in_its_own_coordinates(first_map, musicvae, library):
    more = Subspacer(musicvae, 2, seed=2)
    more.fit(library, epochs=5, align_to=first_map)
    mu, sigma = more.encode(library)
    np.testing.assert_allclose(mu, more.clip_mu, atol=1e-5)
    np.testing.assert_allclose(sigma, more.clip_sigma, atol=1e-5)
    assert more.decodes_back(library).mean() == more.info["decodes_back"]


def test_a_session_retrain_keeps_its_map_unless_its_shape_changes(musicvae, library):
    session = Session(musicvae)
    session.clips = library
    session.train(epochs=5, background=False)
    session.train(epochs=5, background=False)
    assert session.subspacer.info["aligned_on"] == len(library)
    session.train(epochs=5, latent_dims=3, background=False)
    assert session.subspacer.info["aligned_on"] == 0
