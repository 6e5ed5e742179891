"""Sessions: save, open, export, damaged folders, retraining and recording while playing."""

from __future__ import annotations

import json
import shutil
import sys
import time
import zipfile

import numpy as np
import pytest

from hmm_live import TrainingBusyError
from hmm_live.errors import ConfigError
from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session, SessionError
from hmm_live.shipped import DEMO_CLIPS
from hmm_live.ui import Panel


def test_a_saved_session_comes_back_whole(saved):
    again = Session.open(saved.path)
    assert again.clips.names == saved.clips.names
    assert again.training_clips == saved.clips.names[:12]
    assert again.settings["bpm"] == 100.0
    assert again.settings["epochs"] == 20
    bar = saved.clips[0].bar(0)
    np.testing.assert_allclose(again.responder.predict(bar), saved.responder.predict(bar), atol=1e-6)
    for a, b in zip(again.clips, saved.clips):
        assert [(n.pitch, n.quantized_start_step, n.quantized_end_step) for n in a.sequence.notes] == [
            (n.pitch, n.quantized_start_step, n.quantized_end_step) for n in b.sequence.notes
        ]


def test_an_export_is_self_contained(saved, tmp_path):
    saved.export(tmp_path / "export")
    index = json.loads((tmp_path / "export" / "session.json").read_text())
    assert index["musicvae"]["ref"] == "musicvae"
    assert (tmp_path / "export" / "musicvae").is_dir()
    shutil.move(tmp_path / "export", tmp_path / "moved")
    again = Session.open(tmp_path / "moved")
    assert again.trained
    assert again.musicvae.identity() == saved.musicvae.identity()


def _edit(file: str, change):
    """Damage: rewrite the JSON `file` of a session folder after `change(data)`."""

    def damage(folder):
        data = json.loads((folder / file).read_text())
        change(data)
        (folder / file).write_text(json.dumps(data))

    return damage


def _huge_npz(path):
    """Damage: a weights.npz whose array header asks for 4 TB, with 4 bytes stored."""
    with zipfile.ZipFile(path, "w") as z, z.open("weight_0.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
        f.write(b"\0" * 4)


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda p: (p / "responder" / "weights.npz").write_bytes(b"PK\x03\x04 truncated"), "responder"),
        (lambda p: (p / "session.json").write_text('{"format": 1, "clips": []}'), "half-written"),
        (
            lambda p: (p / "session.json").write_text(
                json.dumps({**json.loads((p / "session.json").read_text()), "format": 0})
            ),
            "older hmm_live",
        ),
        (lambda p: (p / "clips" / "0003.mid").unlink(), "0003.mid"),
        (_edit("session.json", lambda d: d.update(bars="x")), "'bars' must be an integer 1-16, got 'x'"),
        (_edit("session.json", lambda d: d.update(bars=10**30)), "'bars' must be an integer 1-16"),
        (_edit("session.json", lambda d: d["musicvae"].pop("identity")), "'musicvae.identity' must be"),
        (_edit("session.json", lambda d: d.update(musicvae="mel")), "'musicvae' must be an object"),
        (_edit("session.json", lambda d: d.update(settings=[1, 2])), "'settings' must be an object"),
        (_edit("session.json", lambda d: d["settings"].update(bpm="fast")), "bpm must be a number"),
        (_edit("session.json", lambda d: d["settings"].update(mode="jazz")), "mode must be one of"),
        (_edit("session.json", lambda d: d["settings"].update(volume=float("nan"))), "volume must be"),
        (_edit("session.json", lambda d: d.update(clips={"a": 1})), "'clips' must be a list"),
        (_edit("session.json", lambda d: d["clips"][2].update(file="../../etc/passwd")), "a path inside the folder"),
        (_edit("session.json", lambda d: d.update(training_clips="all")), "'training_clips' must be"),
        (_edit("subspacer/model.json", lambda d: d.update(config="big")), "'config' must be an object"),
        (_edit("responder/model.json", lambda d: d.update(info=[])), "'info' must be an object"),
        (_edit("subspacer/model.json", lambda d: d["config"].update(encoder_sizes=[-5, 64])), "encoder_sizes"),
        (_edit("subspacer/model.json", lambda d: d["config"].update(decoder_sizes=[64, 10**30])), "decoder_sizes"),
        (_edit("subspacer/model.json", lambda d: d["config"].update(encoder_sizes="1024")), "encoder_sizes"),
        (
            _edit("subspacer/model.json", lambda d: d["config"].update(decoder_sizes=[64, 10**6, 10**6])),
            "must be an integer 1..8192, got 1000000",
        ),  # was TensorFlow's ResourceExhaustedError
        (_edit("subspacer/model.json", lambda d: d["config"].update(latent_dims="2")), "latent_dims"),
        (_edit("responder/model.json", lambda d: d["config"].update(seed="x")), "seed must be a whole number"),
        (_edit("responder/model.json", lambda d: d["config"].update(batch_size=-3)), "batch_size must be"),
        (_edit("responder/model.json", lambda d: d["config"].update(validation_split="x")), "invalid config"),
        (_edit("responder/model.json", lambda d: d["config"].update(learning_rate=[1])), "learning_rate must be"),
        (lambda p: _huge_npz(p / "subspacer" / "weights.npz"), "declares a float32 array of shape"),
    ],
)
def test_damaged_sessions_are_named_and_never_written_over(saved, tmp_path, damage, words):
    folder = tmp_path / "session"
    shutil.copytree(saved.path, folder)
    damage(folder)
    with pytest.raises(SessionError, match=words):
        Session.open(folder)
    fresh = Session.open_or_create(folder)
    assert fresh.problem
    assert words in fresh.problem
    assert not fresh.trained
    assert "Started a new session" in Panel(fresh).problem.value
    before = sorted(p.name for p in folder.iterdir())
    fresh.clips = ClipLibrary.from_midi(DEMO_CLIPS)
    fresh.save()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("session.unreadable-")]
    assert len(kept) == 1
    assert sorted(p.name for p in kept[0].iterdir()) == before
    assert len(Session.open(folder).clips) == 16


def test_training_needs_clips_and_runs_once_at_a_time(musicvae):
    session = Session(musicvae)
    with pytest.raises(ConfigError, match="at least 2 clips"):
        session.train()
    session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
    session.train(epochs=30)
    with pytest.raises(TrainingBusyError):
        session.train(epochs=30)
    session.wait()
    assert session.trained
    before = dict(session.settings)
    with pytest.raises(ConfigError, match="latent_dims must be a whole number from 1 to"):
        session.train(latent_dims=500)
    with pytest.raises(ConfigError, match="beta must be"):
        session.train(beta=-1.0)
    assert session.settings == before  # a refused value is not kept


def test_retraining_while_playing_swaps_models_without_losing_bars(saved):
    session = Session.open(saved.path)
    session.start(input=False, output=False, bpm=240.0)
    answers = session.bus.subscribe("answers", maxlen=100)
    try:
        old = session.engine.models
        performer = session.play_demo(bars=10)
        time.sleep(1.0)
        session.train(epochs=30)
        session.wait()
        performer.join()
        time.sleep(1.2)
        assert session.engine.models is not old
        assert session.engine.models.responder is session.responder
        assert session.engine.last_error is None
        assert len(answers.drain()) >= 9  # every bar played is answered (the first may fall before the start)
    finally:
        session.stop()


def test_the_clock_setting_picks_the_engines_clock(saved, monkeypatch):
    from hmm_live.live import Clock, ClockFollower, ClockSender

    session = Session.open(saved.path)
    for source, kind in (("internal", Clock), ("midi clock in", ClockFollower), ("midi clock out", ClockSender)):
        engine = session.start(clock=source, input=False, output=False, synth=False)
        try:
            assert type(engine.clock) is kind
            assert engine.clock.bpm == 100.0
            session.configure(bpm=90.0)  # the performer's tempo, which a follower leaves to the master
            assert engine.clock.bpm == (100.0 if source == "midi clock in" else 90.0)
        finally:
            session.stop()
            session.configure(bpm=100.0)
    monkeypatch.setitem(sys.modules, "aalink", None)  # as if the link extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'hmm_live\[link\]'"):
        session.start(clock="ableton link", input=False, output=False, synth=False)


def test_recording_from_the_capture_makes_clips(saved):
    session = Session.open(saved.path)
    session.start(input=False, output=False, bpm=240.0)
    try:
        session.record()
        session.play_demo(bars=4).join()
        time.sleep(0.6)  # the last bar closes half a step before the next bar line
        added = session.stop_recording()
    finally:
        session.stop()
    assert added[:2] == ["take 1, bars 1-2", "take 1, bars 3-4"]
    played = [session.clips[i].bar(b) for i in range(2) for b in range(2)]
    recorded = [session.clips[name].bar(b) for name in added[:2] for b in range(2)]
    assert [[n.pitch for n in bar.notes] for bar in recorded] == [[n.pitch for n in bar.notes] for bar in played]


def test_the_demo_plays_into_this_engine_beside_another_hmm_live(saved, jack):
    """Another program (a second kernel, the terminal jam) has a port named "hmm_live in" too:
    the demo cannot tell which is ours by name, so it plays straight into the capture."""
    from hmm_live.live import ports

    other = ports.open_input(ports.IN_PORT, virtual=True, api="jack")
    session = Session.open(saved.path)
    session.start(bpm=240.0, api="jack", synth=False)
    answers = session.bus.subscribe("answers", maxlen=100)
    try:
        session.play_demo(bars=3).join()
        time.sleep(1.2)
        assert len(answers.drain()) >= 2
        assert session.engine.last_error is None
        assert not list(other.iter_pending())  # nothing went to the other program
    finally:
        session.stop()
        other.close()
