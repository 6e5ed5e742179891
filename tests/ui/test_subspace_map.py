"""The subspace map headless: batched points and a pad for every pair of dimensions."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hmm_live.live.messages import Point
from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session
from hmm_live.shipped import DEMO_CLIPS
from hmm_live.ui import Panel
from hmm_live.ui.subspace_map import TRAIL, SubspaceMap


def test_the_map_batches_a_flood_of_points(saved):
    session = Session.open(saved.path)
    panel = Panel(session)
    try:
        start = time.monotonic()
        for i in range(300):  # 1000 points a second
            session.bus.publish("points", Point(i, np.array([i / 100, 0.0])))
            time.sleep(0.001)
        time.sleep(0.3)
        seconds = time.monotonic() - start
        assert panel.map.streamed == 300
        assert len(panel.map.trail.data["d0"]) == TRAIL
        assert panel.map.trail.data["d0"][-1] == pytest.approx(2.99)
        assert panel.map.batches <= seconds * 20 + 2  # at most 20 browser updates a second
    finally:
        panel.close()


def test_a_4d_map_shows_every_pair_of_dimensions(musicvae):
    session = Session(musicvae)
    session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
    session.train(epochs=10, latent_dims=4, background=False)
    view = SubspaceMap(session)
    try:
        assert len(view.view._model.children) == 6  # (1,2) (1,3) (1,4) (2,3) (2,4) (3,4)
        view._tap(1, 3, 0.5, -0.25)
        assert view.cursor.data["d1"] == [0.5]
        assert view.cursor.data["d3"] == [-0.25]
        assert view.cursor.data["d0"] == [0.0]
    finally:
        view.close()
