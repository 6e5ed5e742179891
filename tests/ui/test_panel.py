"""The panel headless: every control reports a problem in its message line instead of raising."""

from __future__ import annotations

import pytest

from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session
from hmm_live.shipped import DEMO_CLIPS
from hmm_live.ui import Panel
from tests.support import groove_model, wait_until


def test_the_panel_reports_instead_of_raising(musicvae, jack, monkeypatch):
    monkeypatch.setenv("HMM_LIVE_MIDI_API", "jack")
    session = Session(musicvae)
    panel = Panel(session)
    try:
        panel.sliders.sliders[0].value = 1.0  # nothing trained yet
        assert "train the subspace first" in panel.sliders.message.value
        assert "No subspace yet" in panel.map.message.value
        panel.ports.input.options = [*panel.ports.input.options, "a vanished keyboard"]
        panel.ports.input.value = "a vanished keyboard"
        assert "vanished" in panel.ports.message.value
        assert session.settings["input"] is None
        panel.training.button.click()  # no clips
        assert "at least 2 clips" in panel.training.message.value
        panel.transport.play.click()  # untrained: cannot start
        assert panel.transport.play.description == "Start"
        assert "train()" in panel.transport.message.value

        session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
        panel.training.epochs.value = 20
        panel.training.button.click()
        panel.training.button.click()  # twice
        assert "already training" in panel.training.message.value
        session.wait()  # the widgets take the news from the UI monitor thread, each in its own time
        wait_until(lambda: panel.lights.state["training"][0] == "on", 10, "the training light on")
        wait_until(lambda: panel.training.progress.value == 1.0, 10, "the progress bar full")
        wait_until(lambda: "16 clips in a 2-D subspace" in panel.map.message.value, 10, "the map redrawn")
        wait_until(lambda: "New subspace" in panel.sliders.message.value, 10, "the sliders' point decoded again")
        assert len(panel.training.losses["responder"].data["epoch"]) == 20
        assert len(panel.map.clips.data["d0"]) == 16

        decoded = panel.sliders.decoded  # the point kept through training was decoded by the new model
        panel.map._tap(0, 1, 0.25, -0.5)  # the pad: sliders follow and decode once
        assert panel.sliders.point.tolist() == pytest.approx([0.25, -0.5])
        assert panel.sliders.decoded == decoded + 1
        assert panel.map.cursor.data["d0"] == [0.25]
        assert panel.sliders.roll.sequence is not None
    finally:
        panel.close()


def test_the_drummer_list_sets_the_sessions_drummer(musicvae, monkeypatch, tmp_path):
    monkeypatch.setenv("HMM_LIVE_CHECKPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no download
    monkeypatch.setenv("HMM_LIVE_CACHE", str(tmp_path / "cache"))
    folder = str(groove_model(1, "tap2drum", seed=1).export(tmp_path / "my drummer"))
    session = Session(musicvae, drummer=folder)
    panel = Panel(session)
    try:
        assert panel.transport.drummer.value == folder
        assert ("my drummer", folder) in panel.transport.drummer.options
        panel.transport.drummer.value = None
        assert session.settings["drummer"] is None
        assert "no drummer" in panel.transport.message.value
        panel.transport.drummer.value = "tap2drum_1bar"  # cannot be downloaded here
        assert "tap2drum_1bar" in panel.transport.message.value
        assert panel.transport.drummer.value is None
        assert session.settings["drummer"] is None
    finally:
        panel.close()
