"""A session's drummer and humanize settings: GrooVAEs by folder or published name, saved with the
session, swapped into a running engine; bad names and models refused with their name."""

from __future__ import annotations

import time

import pytest

from hmm_live.errors import ConfigError
from hmm_live.session import Session
from tests.support import groove_model


@pytest.fixture(scope="module")
def tap2drum_folder(tmp_path_factory):
    return str(groove_model(1, "tap2drum", seed=11).export(tmp_path_factory.mktemp("g") / "tap2drum"))


def test_a_session_drums_with_a_tap2drum_folder_and_keeps_it(saved, tap2drum_folder, tmp_path):
    session = Session.open(saved.path)
    session.configure(drummer=tap2drum_folder)
    assert session.drummer is not None
    session.start(input=False, output=False, bpm=240.0, synth=False)
    drums = session.bus.subscribe("drums", maxlen=100)
    try:
        session.play_demo(bars=3).join()
        time.sleep(0.6)
        got = drums.drain()
        assert len(got) >= 2  # the first bar played may fall before the start
        assert all(n.is_drum and 1 <= n.velocity <= 127 for d in got for n in d.sequence.notes)
        session.configure(drummer=None)  # off while playing
        assert session.engine.drummer is None
    finally:
        session.stop()
    session.configure(drummer=tap2drum_folder)
    session.save(tmp_path / "again")
    assert Session.open(tmp_path / "again").settings["drummer"] == tap2drum_folder


def test_bad_drummers_are_refused_by_name(saved, tap2drum_folder, tmp_path):
    session = Session.open(saved.path)
    with pytest.raises(ConfigError, match="'tap2drum_9bar' is neither a published name"):
        session.configure(drummer="tap2drum_9bar")
    with pytest.raises(ConfigError, match="is not a humanize model"):
        session.configure(humanize=tap2drum_folder)
    humanize = str(groove_model(2, "humanize", seed=12).export(tmp_path / "humanize"))
    with pytest.raises(ConfigError, match="humanize works on drum answers"):
        session.configure(humanize=humanize)  # the shipped model answers with melodies
    assert session.settings["drummer"] is None
    assert session.settings["humanize"] is None
