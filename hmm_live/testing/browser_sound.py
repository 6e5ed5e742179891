"""The browser sound widget in a real JupyterLab page, for its tests and its benchmark: a
notebook that makes a session and shows the widget, switching sound on with a click, and
hearing the answers the page plays (see audio_capture.py)."""

from __future__ import annotations

from pathlib import Path

from hmm_live.testing import lab as jupyter
from hmm_live.testing.audio_capture import clock_sync_error, match, onsets, page_recording, record_page

NOTEBOOK = "sound.ipynb"
SETUP = """\
import json, time
from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session
from hmm_live.shipped import DEMO_CLIPS
from hmm_live.ui.sound import BrowserSound
session = Session(bpm={bpm}, synth=False, instrument=13)  # a xylophone: clean onsets to find
session.clips = ClipLibrary.from_midi(DEMO_CLIPS, bars=2)
session.train(background=False)
sound = BrowserSound(session)
sound"""

# A Web MIDI keyboard the test plays: one input whose messages carry the given timestamps.
FAKE_MIDI = """
(() => {
  const input = {id: 'test-keyboard', name: 'test keyboard', onmidimessage: null};
  window.hmmFakeMidi = {
    play(events) {  // [[data bytes, performance time in s]], delivered at about that time
      for (const [data, at] of events) {
        setTimeout(() => input.onmidimessage && input.onmidimessage(
          {data: new Uint8Array(data), timeStamp: at * 1000}), Math.max(0, at * 1000 - performance.now()));
      }
    }
  };
  navigator.requestMIDIAccess = async () => ({inputs: new Map([['test-keyboard', input]]), onstatechange: null});
})();
"""


def write_notebook(root: Path, bpm: float = 150) -> None:
    jupyter.write_notebook(root / NOTEBOOK, [SETUP.format(bpm=bpm)])


def open_with_sound(lab, page, notebook: str = NOTEBOOK) -> None:
    """Open and run the notebook, click "Sound in this browser", wait for samples and clock sync."""
    page.add_init_script(FAKE_MIDI)
    lab.open(page, notebook)
    jupyter.run_all(page, until=".hmm-sound-toggle")
    button = page.locator(".hmm-sound-toggle")
    button.click()  # a real click: browsers start audio only after a gesture
    page.wait_for_function(
        "() => /samples loaded, clock synced/.test(document.querySelector('.hmm-browser-status').textContent)",
        timeout=60_000,
    )


def answers_heard(page, bars: int) -> dict:
    """Start the engine, play the demo performance for `bars` bars, record the page. Returns the
    answer notes the page scheduled in time ("expected": their AudioContext start times) and the
    error of the onset heard for each (None: not heard); the kernel times of the notes that
    reached the page after their time ("late": it plays those at once; how often that happens is
    the benchmark's to say) or never ("unplayed"); and how far the page's kernel clock is off
    ("sync_error", known to within half of "sync_round_trip"). Together: a note sent for kernel
    time t is heard at t + sync error + onset error."""
    rate = record_page(page)
    started = jupyter.in_kernel(
        page,
        f"""\
import json, time
answers = session.bus.subscribe("answers", maxlen=1024)
engine = session.start()
performer = session.play_demo({bars})
print('KERNEL:', json.dumps(engine.status()))""",
    )
    done = jupyter.in_kernel(
        page,
        """\
performer.join()
time.sleep(2 * engine.clock.bar_seconds)  # the last answer plays out
heard = [a.time + n.quantized_start_step * a.step_seconds for a in answers.drain() for n in a.sequence.notes]
print('KERNEL:', json.dumps({"onsets": heard, "answered": engine.answered, "status": engine.status()}))""",
        timeout=120 + 10 * bars,
    )
    sync_error, round_trip = clock_sync_error(page)
    audio, start = page_recording(page)
    played = {round(on, 6): (at, late) for on, at, late in page.evaluate("() => window.hmmLiveSound.last.played")}
    sent = {round(on, 6) for on in done["onsets"]}
    expected = sorted({played[on][0] for on in sent & played.keys() if not played[on][1]})
    heard = onsets(audio, start, rate)
    return {
        "started": started,
        "answered": done["answered"],
        "status": done["status"],
        "expected": expected,
        "late": sorted(on for on in sent & played.keys() if played[on][1]),
        "unplayed": sorted(sent - played.keys()),
        "errors": match(expected, heard, window=0.06),
        "heard": heard.tolist(),
        "sync_error": sync_error,
        "sync_round_trip": round_trip,
        "browser_status": page.locator(".hmm-browser-status").inner_text(),
    }
