"""Fixtures for every test folder: the magenta-js reference, a JACK server, the shipped melody model
and a trained session saved in a folder. Plain helpers are in tests/support.py."""

from __future__ import annotations

import pytest

from hmm_live import MusicVAE
from hmm_live.live.jack import jack_server
from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS
from hmm_live.testing import magenta_js


@pytest.fixture(scope="session")
def oracle():
    """@magenta/music in node; skips only where node itself is missing."""
    try:
        magenta_js.install()
    except magenta_js.OracleUnavailable as e:
        pytest.skip(f"magenta-js reference unavailable: {e}")
    return magenta_js


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark failed tests, so fixtures can keep evidence (the browser tests' screenshots)."""
    outcome = yield
    if outcome.get_result().failed:
        item.failed = True


@pytest.fixture(scope="module")
def jack():
    """A private JACK server (dummy backend): real MIDI ports without a sound card."""
    try:
        with jack_server(period=128) as name:
            yield name
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def musicvae():
    """The shipped melody model (mel_2bar_folk)."""
    return MusicVAE.load(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def saved(musicvae, tmp_path_factory):
    """A trained session saved in a folder (copy it before damaging it)."""
    session = Session(DEFAULT_MODEL, tmp_path_factory.mktemp("s") / "session", bpm=100.0)
    session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
    session.training_clips = session.clips.names[:12]
    session.train(epochs=20, background=False)
    session.save()
    return session
