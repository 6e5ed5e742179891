"""Training: example extraction, the objective, the loop (resume, determinism,
distribution over two logical CPUs and over two worker processes), eval."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from hmm_live import MusicVAE
from hmm_live.errors import CheckpointError, ConfigError, UnsupportedModelError
from hmm_live.music import from_notes, write_midi
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.melody import MelodyConverter
from hmm_live.testing.lab import free_port
from hmm_live.training import evaluate, extract, train_musicvae
from hmm_live.training.objective import encoder_inputs
from hmm_live.training.pipeline import training_dataset
from hmm_live.training.sources import music21_to_sequence
from hmm_live.training.train import _uninterrupted
from tests.support import random_drums, random_melody, randomize

TINY = dict(z_size=8, encoder_sizes=[16], decoder_sizes=[16, 16], batch_size=8, log=lambda _: None, verbose=0)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HMM_LIVE_CACHE", str(tmp_path / "cache"))


def tune(rng, bars: int, program: int = 0):
    seq = random_melody(rng, steps=16 * bars, low=60, high=76)
    for n in seq.notes:
        n.program = program
    return seq


@pytest.fixture
def midi_folder(tmp_path):
    """Eight 4-bar tunes in a nested folder, and one of each kind of bad file."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "midi"
    for i in range(8):
        write_midi(tune(rng, 4), folder / ("sub" if i % 2 else "") / f"tune{i}.mid")
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    write_midi(random_drums(rng, 64), folder / "drums_only.mid")
    waltz = tune(rng, 4)
    waltz.time_signatures[0].numerator = 3
    write_midi(waltz, folder / "waltz.mid")
    write_midi(from_notes([], 32), folder / "empty.mid")
    return folder


def test_windows_follow_magenta_slicing():
    conv = MelodyConverter()
    seq = from_notes([(60, 0, 4), (62, 16, 20), (64, 48, 52)], 64)  # bar 3 (32..47) is silent
    windows = conv.training_windows(seq)
    # Bars 0-1, 1-2 and 2-3 all hold an onset; a bar-aligned hop of 16 steps.
    assert len(windows) == 3
    assert windows[0][0] == 60 - 21 + 2
    assert windows[0][16] == 62 - 21 + 2
    assert windows[1][0] == 62 - 21 + 2
    assert windows[2][16] == 64 - 21 + 2
    repeated = from_notes([(60, s, s + 2) for s in range(0, 64, 4)], 64)
    assert len(conv.training_windows(repeated)) == 1  # identical windows count once per piece
    for n in seq.notes:  # a second instrument gives its own melody
        n.instrument = 1
    both = from_notes([(72, 0, 4)], 64)
    both.notes.extend(seq.notes)
    assert len(conv.training_windows(both)) == 4


def test_drum_windows_and_encoder_inputs_match_the_converter():
    rng = np.random.default_rng(1)
    seq = random_drums(rng, 64)
    windows = DrumsConverter().training_windows(seq)
    assert windows.shape == (3, 32)  # windows at bars 0 and 1... and 2, the last one padded
    np.testing.assert_array_equal(windows[0], DrumsConverter().to_labels(slice_first_bars(seq)))
    for conv, make in (
        (MelodyConverter(), random_melody),
        (DrumsConverter(), random_drums),
        (DrumsConverter(roll_input=False), random_drums),
    ):
        seqs = [make(rng) for _ in range(4)]
        labels = np.stack([conv.to_labels(s) for s in seqs])
        expected = np.stack([conv.to_inputs(s) for s in seqs])
        np.testing.assert_array_equal(encoder_inputs(conv, tf.constant(labels, tf.int32)).numpy(), expected)


def slice_first_bars(seq):
    from hmm_live.music import slice_bars

    return slice_bars(seq, 0, 2)


def test_extraction_report_counts_every_bad_file(midi_folder):
    splits, report = extract([midi_folder], MelodyConverter())
    assert report.pieces == 12
    assert report.used == 8
    assert report.skipped == {"unparsable": 1, "only percussion": 1, "no 4/4 bars": 1, "no notes": 1}
    assert "12 pieces, 8 used" in report.summary()
    assert "broken.mid" in report.summary()
    assert sum(len(v) for v in splits.values()) == sum(report.windows.values()) > 0
    _, drums = extract([midi_folder], DrumsConverter())
    assert drums.used == 1
    assert drums.skipped["no percussion"] == 9


def test_music21_tunes_keep_whole_bars_on_the_grid():
    from music21 import converter

    abc = "X:1\nT:Pickup Reel\nM:4/4\nL:1/8\nK:D\nAB|d2 fd A2 FA|d2 fd e2 dB|]\n"
    seq = music21_to_sequence(converter.parse(abc, format="abc"), "reel")
    windows = MelodyConverter().training_windows(seq)
    # The pickup is dropped: d on the first downbeat, f# a quarter later. (The second
    # window is bar 2 and the bar holding only its last note-off.)
    assert len(windows) == 2
    assert windows[0][0] == 74 - 21 + 2
    assert windows[0][4] == 78 - 21 + 2
    jig = converter.parse("X:2\nT:Jig\nM:6/8\nL:1/8\nK:G\nGAB cde|dBG AFD|]\n", format="abc")
    with pytest.raises(ConfigError, match="no whole 4/4 bars"):
        music21_to_sequence(jig, "jig")


def test_pipeline_is_a_function_of_the_step():
    labels = np.random.default_rng(2).integers(2, 60, (50, 32)).astype(np.int16)
    conv = MelodyConverter()
    batches = list(training_dataset(labels, conv, 4, 8, seed=5, transpose=(-5, 5)).take(9))
    resumed = next(iter(training_dataset(labels, conv, 4, 8, seed=5, start_step=7, transpose=(-5, 5))))
    for key in ("labels", "eps", "noise"):
        np.testing.assert_array_equal(batches[7][key].numpy(), resumed[key].numpy())
    seen = np.concatenate([b["labels"].numpy() for b in batches[:6]])  # 48 of 50 rows: pass 0
    assert seen.min() >= 2
    assert seen.max() <= 89
    # Each row is a training row transposed as a whole, and no row comes twice in a pass.
    intervals = {tuple(r - r[0]) for r in labels.astype(np.int64)}
    assert all(tuple(r - r[0]) in intervals for r in seen.astype(np.int64))
    shifts = {
        int(r[0] - labels[i][0])
        for r in seen
        for i in range(50)
        if tuple(r - r[0]) == tuple(labels[i].astype(np.int64) - labels[i][0])
    }
    assert len(shifts) > 3
    assert max(map(abs, shifts)) <= 5
    assert len({tuple(r - r[0]) for r in seen.astype(np.int64)}) == 48


def test_teacher_forcing_agrees_with_greedy_decoding():
    model = randomize(MusicVAE.create("cat-mel_2bar_small", 8, [16], [16, 16]), seed=4)
    z = np.random.default_rng(3).standard_normal((5, 8)).astype(np.float32)
    greedy = model.decode_labels(z)
    logits = model.network.decoder.teacher_forced(
        tf.constant(z), tf.constant(greedy, tf.int32), 0.0, tf.ones([5, 32, 2])
    )
    np.testing.assert_array_equal(tf.argmax(logits, -1).numpy(), greedy)


def test_training_learns_saves_and_resumes_exactly(midi_folder, tmp_path):
    straight = train_musicvae(
        [midi_folder], tmp_path / "a", steps=40, save_every=20, seed=3, learning_rate=3e-3, **TINY
    )
    history = straight.history
    assert history[-1]["loss"] < history[0]["loss"]
    assert not (tmp_path / "a" / "training" / "state.npz").exists()  # removed once complete
    card = json.loads((tmp_path / "a" / "training.json").read_text())
    assert card["steps"] == 40
    assert card["data"]["used"] == 8

    train_musicvae(
        [midi_folder], tmp_path / "b", steps=20, save_every=20, seed=3, keep_state=True, learning_rate=3e-3, **TINY
    )
    resumed = train_musicvae([midi_folder], tmp_path / "b", steps=40, save_every=20, seed=3, learning_rate=3e-3, **TINY)
    assert resumed.steps == 40
    a, b = MusicVAE.load(tmp_path / "a").weights(), MusicVAE.load(tmp_path / "b").weights()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)
    assert MusicVAE.load(tmp_path / "b").export(tmp_path / "js").exists()


def test_fine_tuning_starts_from_a_trained_model(midi_folder, tmp_path):
    first = train_musicvae(
        [midi_folder], tmp_path / "first", steps=20, save_every=20, seed=3, learning_rate=3e-3, **TINY
    )
    tuned = train_musicvae(
        [midi_folder],
        tmp_path / "tuned",
        steps=20,
        save_every=20,
        seed=3,
        learning_rate=3e-3,
        init_from=tmp_path / "first",
        **TINY,
    )
    fresh = train_musicvae(
        [midi_folder], tmp_path / "fresh", steps=20, save_every=20, seed=3, learning_rate=3e-3, **TINY
    )
    assert tuned.history[0]["loss"] < fresh.history[0]["loss"]  # it went on from where the first run ended
    assert tuned.history[0]["loss"] <= first.history[-1]["loss"] * 1.5
    card = json.loads((tmp_path / "tuned" / "training.json").read_text())
    assert card["init_from"] == str(tmp_path / "first")
    with pytest.raises(ConfigError, match=r"--init-from .*first.* same config and sizes"):
        train_musicvae(
            [midi_folder], tmp_path / "o", steps=5, save_every=5, init_from=tmp_path / "first", **{**TINY, "z_size": 4}
        )


def test_resuming_another_run_is_refused(midi_folder, tmp_path):
    train_musicvae([midi_folder], tmp_path / "run", steps=5, save_every=5, keep_state=True, **TINY)
    with pytest.raises(CheckpointError, match=r"different run.*z_size"):
        train_musicvae([midi_folder], tmp_path / "run", steps=10, save_every=5, **{**TINY, "z_size": 4})
    state = tmp_path / "run" / "training" / "state.npz"
    state.write_bytes(state.read_bytes()[:100])  # a truncated state: a clear error
    with pytest.raises(CheckpointError, match=r"cannot resume from .*state.npz"):
        train_musicvae([midi_folder], tmp_path / "run", steps=10, save_every=5, **TINY)


def test_bad_training_requests(midi_folder, tmp_path):
    with pytest.raises(ConfigError, match="neither a file, a folder nor a music21"):
        train_musicvae([tmp_path / "nowhere"], tmp_path / "o", **TINY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no MIDI files"):
        train_musicvae([tmp_path / "empty"], tmp_path / "o", **TINY)
    with pytest.raises(UnsupportedModelError, match="trio"):  # the families trained: test_hierarchical_and_chords.py
        train_musicvae([midi_folder], tmp_path / "o", "hierdec-trio_16bar", **TINY)
    with pytest.raises(ConfigError, match="no training examples"):
        train_musicvae([midi_folder / "sub"], tmp_path / "o", "cat-drums_2bar_small", steps=1, **TINY)
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        train_musicvae([midi_folder], tmp_path / "o", max_bta=0.1, **TINY)
    with pytest.raises(ConfigError, match=r"steps \(7\) must be a whole number of save_every intervals \(5\).*5 or 10"):
        train_musicvae([midi_folder], tmp_path / "o", steps=7, save_every=5, **TINY)


def test_exactly_the_steps_asked_are_trained(midi_folder, tmp_path):
    run = train_musicvae([midi_folder], tmp_path / "o", steps=3, **TINY)  # fewer than one save interval
    assert run.steps == 3
    assert json.loads((tmp_path / "o" / "training.json").read_text())["steps"] == 3


def test_evaluate_reports_the_decoder_it_uses():
    model = randomize(MusicVAE.create("cat-mel_2bar_small", 8, [16], [16, 16]), seed=6)
    rng = np.random.default_rng(7)
    z = rng.standard_normal((6, 8)).astype(np.float32)
    labels = model.decode_labels(z)
    result = evaluate(model, labels)
    mu = model.encode_tensors(np.eye(90, dtype=np.float32)[labels])[0]
    expected = (model.decode_labels(mu) == labels).mean()
    assert result["reconstruction_accuracy"] == pytest.approx(expected, abs=1e-4)
    assert result["examples"] == 6
    assert result["kl_bits"] > 0
    with pytest.raises(ConfigError, match="labels"):
        evaluate(model, labels[:, :16])


def cli(*args, env=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hmm_live.cli", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


TINY_CLI = ["--z-size", "8", "--encoder-sizes", "16", "--decoder-sizes", "16,16", "--batch-size", "8"]


def test_killed_run_resumes_from_its_last_save(midi_folder, tmp_path):
    out = tmp_path / "run"
    args = ["train-musicvae", midi_folder, "--out", out, "--save-every", "10", *TINY_CLI]
    # Ctrl-C as in a terminal: a runner that started us in the background (bash `&`) leaves
    # SIGINT ignored, and children inherit that, so give the trainer the default back
    proc = cli(
        *args, "--steps", 100000, env={**os.environ}, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    state = out / "training" / "state.npz"
    deadline = time.monotonic() + 240
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    assert "run the same command again to resume" in output
    saved = json.loads((out / "training.json").read_text())["steps"]
    assert saved >= 10
    assert saved % 10 == 0
    proc = cli(*args, "--steps", saved + 10, env={**os.environ})
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    assert f"from step {saved} to {saved + 10}" in output
    assert json.loads((out / "training.json").read_text())["steps"] == saved + 10


def test_eval_cli_writes_json(midi_folder, tmp_path):
    train_musicvae([midi_folder], tmp_path / "m", steps=5, save_every=5, **TINY)
    proc = cli(
        "eval", tmp_path / "m", midi_folder, "--split", "train", "--out", tmp_path / "e.json", env={**os.environ}
    )
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["split"] == "train"
    assert 0 <= result["reconstruction_accuracy"] <= 1
    assert set(result) >= {"teacher_forced_accuracy", "kl_bits", "r_loss_nats", "examples"}
    realism = result["realism"]  # samples at 0.5 against the split, next to the split against itself
    assert realism["temperature"] == 0.5
    assert set(realism["samples"]["similarity"]) == set(realism["ceiling"]["similarity"])


def _weights(folder: Path) -> dict[str, np.ndarray]:
    return MusicVAE.load(folder).weights()


def test_mirrored_on_two_logical_cpus_matches_one_device(midi_folder, tmp_path):
    common = [midi_folder, "--steps", "6", "--save-every", "3", "--sampling-rate", "2", "--seed", "1", *TINY_CLI]
    runs = {}
    for strategy in ("default", "mirrored"):
        proc = cli(
            "train-musicvae",
            *common,
            "--out",
            tmp_path / strategy,
            "--strategy",
            strategy,
            "--cpu-devices",
            "2",
            env={**os.environ},
        )
        output = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0, output
        runs[strategy] = _weights(tmp_path / strategy)
    assert "2 replica(s)" in output
    for name, value in runs["default"].items():
        np.testing.assert_allclose(runs["mirrored"][name], value, atol=1e-5, err_msg=name)


def test_multi_worker_over_tf_config_matches_one_device(midi_folder, tmp_path):
    common = [midi_folder, "--steps", "4", "--save-every", "2", "--seed", "1", *TINY_CLI]
    proc = cli("train-musicvae", *common, "--out", tmp_path / "single", env={**os.environ})
    assert proc.communicate(timeout=300)[0] is not None
    assert proc.returncode == 0
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(
            cli(
                "train-musicvae",
                *common,
                "--out",
                tmp_path / f"worker{index}",
                "--strategy",
                "multi-worker",
                env={**os.environ, "TF_CONFIG": config},
            )
        )
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert not (tmp_path / "worker1").exists()  # only the chief writes
    single, multi = _weights(tmp_path / "single"), _weights(tmp_path / "worker0")
    for name, value in single.items():
        np.testing.assert_allclose(multi[name], value, atol=1e-5, err_msg=name)


def test_ctrl_c_during_a_save_waits_for_the_save_to_finish():
    """A Ctrl-C between writing the card and the resume state would make them disagree."""
    written = []
    with pytest.raises(KeyboardInterrupt):
        with _uninterrupted():
            written.append("card")
            signal.raise_signal(signal.SIGINT)
            written.append("state")
    assert written == ["card", "state"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
