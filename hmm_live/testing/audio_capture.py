"""Hear what the built-in synth played: record a JACK client's audio with monotonic times,
and find the note onsets in it. For the tests and benchmarks (needs the `test` extra's
JACK-Client and a running JACK server)."""

from __future__ import annotations

import ctypes
import threading
import time

import numpy as np

HOP_S = 0.001  # onset detection resolution


class JackRecorder:
    """Records the left output of a JACK client (e.g. "hmm_live synth") from construction to `stop()`."""

    def __init__(self, source: str = "hmm_live synth:left"):
        import jack

        self._jack = jack
        self.client = jack.Client("hmm_live recorder", no_start_server=True)
        self.port = self.client.inports.register("in")
        self.sample_rate, self.period = self.client.samplerate, self.client.blocksize
        self._blocks: list[tuple[int, np.ndarray]] = []
        self._lock = threading.Lock()
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.source = source

    def _process(self, frames: int) -> None:
        with self._lock:
            self._blocks.append((self.client.last_frame_time, self.port.get_array().copy()))

    def connect(self) -> None:
        """Connect the source (once the synth's client exists)."""
        self.client.connect(self.source, self.port)

    def stop(self) -> tuple[np.ndarray, float]:
        """(mono audio, monotonic time of its first sample)."""
        offset = _jack_minus_monotonic()
        first_frame = self._blocks[0][0]
        libjack = _libjack()
        client = int(self._jack._ffi.cast("uintptr_t", self.client._ptr))
        start = libjack.jack_frames_to_time(client, first_frame) / 1e6 - offset
        self.client.deactivate()
        self.client.close()
        with self._lock:
            frames = [(f, b) for f, b in self._blocks]
        audio = np.zeros(frames[-1][0] + len(frames[-1][1]) - first_frame, np.float32)
        for frame, block in frames:  # placed by frame time: a late callback leaves no gap or overlap
            audio[frame - first_frame : frame - first_frame + len(block)] = block
        return audio, start


def _libjack() -> ctypes.CDLL:
    lib = ctypes.CDLL("libjack.so.0")  # the same library JACK-Client loaded
    lib.jack_get_time.restype = ctypes.c_uint64
    lib.jack_frames_to_time.restype = ctypes.c_uint64
    lib.jack_frames_to_time.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
    return lib


def _jack_minus_monotonic() -> float:
    """JACK's microsecond clock minus time.monotonic (different clocks: measured, median of 9)."""
    lib = _libjack()
    samples = []
    for _ in range(9):
        a = time.monotonic()
        j = lib.jack_get_time() / 1e6
        b = time.monotonic()
        samples.append(j - (a + b) / 2)
    return float(np.median(samples))


def onsets(audio: np.ndarray, start: float, sample_rate: int, floor: float = 0.003) -> np.ndarray:
    """Monotonic times where the sound's level jumps (RMS per ms more than doubles over the last 20 ms)."""
    hop = max(1, int(sample_rate * HOP_S))
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    before = np.array([rms[max(0, i - 20) : i].max() if i else 0.0 for i in range(len(rms))])
    rising = np.flatnonzero((rms > 2 * before) & (rms > floor))
    kept = [i for k, i in enumerate(rising) if k == 0 or i - rising[k - 1] > 1]  # the first hop of each rise
    return start + np.array(kept, float) * hop / sample_rate


def match(expected: list[float], found: np.ndarray, window: float = 0.05) -> list[float | None]:
    """For each expected onset, the error (found - expected, seconds) of the first found onset
    within `window` before or after it, or None where nothing was heard."""
    errors: list[float | None] = []
    for t in expected:
        near = found[(found > t - window) & (found < t + window)]
        errors.append(float(near[0] - t) if len(near) else None)
    return errors


def hear_answers(engine, perform, quiet_after: float = 0.5) -> dict:
    """Record a started engine's built-in synth (on JACK) while `perform()` plays into it, then
    stop the engine. Returns every answer note's scheduled onset and the error of the onset
    heard for it (None: not heard), and the level heard from `quiet_after` s after the stop."""
    from hmm_live.live.clock import first_step

    recorder = JackRecorder()
    answers = engine.bus.subscribe("answers", maxlen=4096)
    try:
        recorder.connect()
        perform()
        time.sleep(engine.clock.bar_seconds + 0.1)  # the last bar closes and is answered
        scheduled = [
            engine.clock.time_of(first_step(a.bar) + n.quantized_start_step)
            for a in answers.drain()
            for n in a.sequence.notes
        ]
        time.sleep(max(0.0, max(scheduled, default=0.0) - time.monotonic()) + 0.3)
    finally:
        engine.stop()
        stopped = time.monotonic()
    time.sleep(quiet_after + 0.5)
    audio, start = recorder.stop()
    tail = audio[max(0, int((stopped + quiet_after - start) * recorder.sample_rate)) :]
    return {
        "scheduled": scheduled,
        "errors": match(sorted(set(scheduled)), onsets(audio, start, recorder.sample_rate)),
        "level_after_stop": float(np.sqrt(np.mean(tail.astype(np.float64) ** 2))) if len(tail) else 0.0,
        "period_s": recorder.period / recorder.sample_rate,
    }


# An AudioWorklet that hands every render quantum of the browser widget's output to the page,
# with its AudioContext time: what the page plays, sample for sample.
_RECORDER = """async () => {
    const s = window.hmmLiveSound.last;
    const code = `class HmmRecorder extends AudioWorkletProcessor {
        process(inputs) { const c = inputs[0][0]; if (c) this.port.postMessage({t: currentTime, d: c.slice(0)}); return true; }
    } registerProcessor('hmm-recorder', HmmRecorder);`;
    await s.ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([code], {type: 'application/javascript'})));
    const node = new AudioWorkletNode(s.ctx, 'hmm-recorder');
    window.hmmRecording = [];
    node.port.onmessage = (e) => window.hmmRecording.push(e.data);
    s.master.connect(node);
    node.connect(s.ctx.destination);
    return s.ctx.sampleRate;
}"""
# Each block goes where its time says: the worklet gets no block while nothing plays into it.
_COLLECT = """() => {
    const blocks = window.hmmRecording, rate = window.hmmLiveSound.last.ctx.sampleRate;
    const t0 = blocks[0].t, last = blocks[blocks.length - 1];
    const all = new Float32Array(Math.round((last.t - t0) * rate) + last.d.length);
    for (const b of blocks) all.set(b.d, Math.round((b.t - t0) * rate));
    let text = '';
    const bytes = new Uint8Array(all.buffer);
    for (let i = 0; i < bytes.length; i += 32768) text += String.fromCharCode(...bytes.subarray(i, i + 32768));
    return {audio: btoa(text), start: blocks[0].t};
}"""


def record_page(page) -> int:
    """Start recording the page's hmm_live sound (after it was switched on); returns its sample rate."""
    return int(page.evaluate(_RECORDER))


def page_recording(page) -> tuple[np.ndarray, float]:
    """(mono audio, AudioContext time of its first sample) of what the page played since
    `record_page`: on the clock the page schedules its notes on, so no clock is mapped to
    another; silence where no block came."""
    import base64

    got = page.evaluate(_COLLECT)
    return np.frombuffer(base64.b64decode(got["audio"]), np.float32), float(got["start"])


def clock_sync_error(page, tries: int = 9) -> tuple[float, float]:
    """How far the page's estimate of the kernel clock (its `offset`) is from this process's
    time.monotonic, measured over the quickest of a few round trips to the page: (error, that
    round trip), in seconds. The error is known to within half the round trip."""
    best = (np.inf, 0.0)
    for _ in range(tries):
        before = time.monotonic()
        perf, offset = page.evaluate("() => [performance.now() / 1000, window.hmmLiveSound.last.offset]")
        after = time.monotonic()
        best = min(best, (after - before, offset - ((before + after) / 2 - perf)))
    return best[1], best[0]
