"""Shared fixtures: random-weight models, the magenta-js reference and a JACK server."""
from __future__ import annotations

import numpy as np
import pytest

from hmm_live import MusicVAE
from hmm_live.live.jack import jack_server
from hmm_live.music import from_notes
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


def randomize(model: MusicVAE, seed: int, scale: float = 0.15) -> MusicVAE:
    """Give every weight (biases too) random values, so no path goes untested."""
    rng = np.random.default_rng(seed)
    for var in model.network.magenta_weights().values():
        var.assign(rng.normal(0.0, scale, var.shape).astype(np.float32))
    return model


def random_melody(rng: np.random.Generator, steps: int = 32, low: int = 48, high: int = 84):
    """A monophonic melody with rests and no overlapping notes."""
    notes, t = [], int(rng.integers(0, 3))
    while t < steps - 1:
        length = int(rng.integers(1, 6))
        end = min(t + length, steps)
        notes.append((int(rng.integers(low, high)), t, end))
        t = end + int(rng.integers(0, 3))
    return from_notes(notes, steps)


def random_drums(rng: np.random.Generator, steps: int = 32):
    pitches = [36, 38, 42, 46, 45, 48, 50, 49, 51, 22, 26, 40]
    notes = [(int(p), s, s + 1) for s in range(steps) for p in pitches if rng.random() < 0.12]
    return from_notes(notes, steps, is_drum=True)


def js_sequence(seq) -> dict:
    return {"notes": [[n.pitch, n.quantized_start_step, n.quantized_end_step, n.is_drum] for n in seq.notes],
            "totalQuantizedSteps": seq.total_quantized_steps}


def note_triples(seq) -> list[list[int]]:
    return [[n.pitch, n.quantized_start_step, n.quantized_end_step] for n in seq.notes]
