"""Helpers shared by the tests: random models and music, the magenta-js forms, playing in real time, polling,
a loopback checkpoint server.

Fixtures live in the conftest.py files; what is here is plain functions, imported as
`from tests.support import ...`.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import note_seq
import numpy as np

from hmm_live import MusicVAE
from hmm_live.live import Clock
from hmm_live.live.performer import perform
from hmm_live.models.musicvae.network import NetworkSpec
from hmm_live.music import NoteSequence, from_notes
from hmm_live.music.groove import GrooveConverter

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]  # the repository root: checkpoints/, bench/, tests/data/
HELDOUT = REPO / "tests" / "data" / "heldout.npz"  # the test split\'s windows (tests/data/make_heldout.py)
# the extra controls hmm_live assumes mel_2bar_multicontrol_* takes (docs/musicvae.md): name, depth
MULTICONTROL = (("rhythm", 1), ("shape", 3), ("register", 4))


def randomize(model: MusicVAE, seed: int, scale: float = 0.15) -> MusicVAE:
    """Give every weight (biases too) random values, so no path goes untested."""
    rng = np.random.default_rng(seed)
    for var in model.network.magenta_weights().values():
        var.assign(rng.normal(0.0, scale, var.shape).astype(np.float32))
    return model


def groove_model(bars: int, job: str, seed: int, z: int = 8, size: int = 16) -> MusicVAE:
    """A random-weight GrooVAE of `bars` bars with tiny layers: job "tap2drum" (tapify) or "humanize"."""
    converter = GrooveConverter(16 * bars, humanize=job == "humanize", tapify=job == "tap2drum")
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=z,
        encoder_sizes=(size,),
        decoder_sizes=(size, size),
        num_steps=converter.num_steps,
    )
    return randomize(MusicVAE(spec, converter), seed)


def random_melody(rng: np.random.Generator, steps: int = 32, low: int = 48, high: int = 84):
    """A monophonic melody with rests and no overlapping notes."""
    notes, t = [], int(rng.integers(0, 3))
    while t < steps - 1:
        length = int(rng.integers(1, 6))
        end = min(t + length, steps)
        notes.append((int(rng.integers(low, high)), t, end))
        t = end + int(rng.integers(0, 3))
    return from_notes(notes, steps)


def random_multitrack(
    rng: np.random.Generator, programs: list[int | None], notes_each: int = 6, steps: int = 96, per_quarter: int = 24
) -> NoteSequence:
    """One instrument per entry of `programs` (None: drums), each with up to `notes_each` random
    notes of random velocities (chords, same-step onsets and offsets, notes of one pitch that
    overlap), instrument numbers shuffled; quantised at `per_quarter` steps per quarter."""
    seq = from_notes([], steps, steps_per_quarter=per_quarter)
    instruments = rng.permutation(len(programs)) + 3
    for instrument, program in zip(instruments.tolist(), programs):
        starts = rng.integers(0, steps, notes_each)
        triples = [(int(rng.integers(36, 52) if program is None else rng.integers(40, 90)), int(s), 0) for s in starts]
        triples = [(p, s, min(s + int(rng.choice([1, 3, 6, 12, 24, 48])), steps)) for p, s, _ in triples]
        track = from_notes(triples, steps, is_drum=program is None, steps_per_quarter=per_quarter).notes
        for note in track:
            note.instrument, note.program, note.velocity = instrument, program or 0, int(rng.integers(1, 128))
        seq.notes.extend(track)
    return seq


def random_drums(rng: np.random.Generator, steps: int = 32):
    pitches = [36, 38, 42, 46, 45, 48, 50, 49, 51, 22, 26, 40]
    notes = [(int(p), s, s + 1) for s in range(steps) for p in pitches if rng.random() < 0.12]
    return from_notes(notes, steps, is_drum=True)


def unquantized(notes, qpm: float = 120.0, is_drum: bool = False) -> NoteSequence:
    """An unquantised 4/4 sequence from (pitch, start_s, end_s[, velocity]) tuples."""
    seq = NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=4, denominator=4)
    for pitch, start, end, *velocity in notes:
        seq.notes.add(
            pitch=pitch, start_time=start, end_time=end, is_drum=is_drum, velocity=velocity[0] if velocity else 90
        )
    seq.total_time = max((n.end_time for n in seq.notes), default=0.0)
    return seq


def random_groove(rng: np.random.Generator, bars: int = 2, qpm: float = 120.0, rate: float = 0.15) -> NoteSequence:
    """A drum performance: hits of every class (and edge pitches 22, 26), velocities 1..127, onsets up to
    0.45 steps off the grid (never before 0); some steps hit one class twice, so the loudest must win."""
    pitches = [36, 38, 42, 46, 45, 48, 50, 49, 51, 22, 26, 44]
    step = 60.0 / qpm / 4
    notes = []
    for s in range(16 * bars):
        for p in pitches:
            if rng.random() < rate:
                start = (s + rng.uniform(0.0 if s == 0 else -0.45, 0.45)) * step
                notes.append((p, start, start + step / 2, int(rng.integers(1, 128))))
    return unquantized(notes, qpm, is_drum=True)


def js_timed_sequence(seq: NoteSequence) -> dict:
    """An unquantised NoteSequence as the magenta-js oracle's `timed_sequences` take it."""
    notes = [[n.pitch, n.start_time, n.end_time, n.velocity, n.is_drum] for n in seq.notes]
    return {"notes": notes, "qpm": seq.tempos[0].qpm, "totalTime": seq.total_time}


def js_sequence(seq) -> dict:
    notes = [
        [
            n.pitch,
            n.quantized_start_step,
            n.quantized_end_step,
            n.is_drum,
            n.program,
            n.instrument,
            n.velocity,
            n.start_time,
        ]
        for n in seq.notes
    ]
    return {
        "notes": notes,
        "totalQuantizedSteps": seq.total_quantized_steps,
        "stepsPerQuarter": seq.quantization_info.steps_per_quarter,
    }


def note_triples(seq) -> list[list[int]]:
    return [[n.pitch, n.quantized_start_step, n.quantized_end_step] for n in seq.notes]


def melody_bar(offset: int = 0) -> list[tuple[int, int, int]]:
    """(pitch, step, length) of a bar of eighth notes."""
    return [(64 + offset + (s % 3) * 2, 2 * s, 2) for s in range(8)]


def play(send, clock: Clock, bar: int, notes, rng=None, jitter: float = 0.0) -> None:
    """Send (pitch, step, length) notes at their times in `bar` (real time), with uniform random timing jitter."""
    sequence = from_notes([(pitch, step, step + length) for pitch, step, length in notes], 16)
    perform(send, clock, [sequence], first_bar=bar, jitter=jitter, rng=rng, velocity=90)


def wait_until(condition: Callable[[], T], timeout: float, what: str, poll: float = 0.05) -> T:
    """Poll `condition()` until it returns something true, and return that; fail after a
    generous deadline. What runs in another thread is waited for this way, never timed."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(poll)
    return result


class Bucket:
    """A loopback HTTP server of the files under `root` (laid out like Magenta's bucket), with faults to order.

    `ranges`: honour `Range: bytes=N-`; `drops`: URL path -> file offsets at which one response each is
    cut (the connection closes there); `budget`: body bytes left to serve before every response is cut
    (None: no limit). `requests` logs (path, Range header); `served` counts body bytes sent.
    """

    def __init__(self, root: Path):
        self.root, self.ranges, self.budget = root, True, None
        self.drops: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.served = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _BucketHandler)
        self._server.bucket = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Bucket:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _BucketHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        bucket: Bucket = self.server.bucket
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        asked = self.headers.get("Range")
        bucket.requests.append((path, asked))
        file = bucket.root / path.lstrip("/")
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        start = int(re.fullmatch(r"bytes=(\d+)-", asked)[1]) if asked and bucket.ranges else 0
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if asked and bucket.ranges else 200)
        if asked and bucket.ranges:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = len(body)
        if bucket.drops.get(path):
            cut = min(cut, max(0, bucket.drops[path].pop(0) - start))
        if bucket.budget is not None:
            cut = min(cut, bucket.budget)
            bucket.budget -= cut
        self.wfile.write(body[:cut])
        bucket.served += cut
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        """Quiet: the tests read `requests` instead."""


class FailsOnFirstLiveBar:
    """A responder that fails on its first live bar only (its call 1 is the engine's warm-up)."""

    def __init__(self, responder):
        self.responder, self.calls = responder, 0

    def predict(self, bar):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("model blew up")
        return self.responder.predict(bar)
