"""Notebook UI benchmark: slider release -> new notes shown, and the map under a flood of points.

- kernel: a slider's new value -> Subspacer + MusicVAE decode -> piano roll
  redrawn, measured in the kernel over many releases (the observer path);
- browser: in a real JupyterLab in Chromium, a key released on a latent
  slider -> the new piano roll drawn in the page (MutationObserver), which
  adds the widget messages both ways; side by side with the same round trip
  through a bare slider and a text widget, the floor of the widget stack
  here (skipped without chromium);
- map: 1000 responder points a second for 3 s -> browser updates a second
  (the UI thread batches them) and points delivered;
- transport: in the browser, the jam panel's Start/Stop clicked while another
  cell keeps the kernel busy -> the panel's state line shows the engine
  started / stopped (the kernel acted and said so); the first Start, which
  also starts a MIDI system where the machine has none, apart.

   python bench/ui.py [--quick] [--out FILE]
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import arguments, emit, log, stats_ms, target

from hmm_live.live.messages import Point
from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session
from hmm_live.shipped import DEMO_CLIPS
from hmm_live.testing.lab import CHROMIUM, chromium, jupyter_lab, run_all, write_notebook
from hmm_live.ui import LatentSliders, SubspaceMap

SETUP = """from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session
from hmm_live.shipped import DEMO_CLIPS
from hmm_live.ui import LatentSliders
session = Session()
session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
session.train(epochs=50, background=False)
sliders = LatentSliders(session)
sliders"""

# the same round trip with no model: a bare slider whose observer rewrites a text widget
BASELINE = """import ipywidgets as widgets
bare = widgets.FloatSlider(0.0, min=-3, max=3, step=0.01, continuous_update=False)
bare.add_class("hmm-bare-slider")
shown = widgets.HTML("0")
shown.add_class("hmm-bare-shown")
def show(change):
    shown.value = f"<b>{change['new']}</b>"
bare.observe(show, "value")
widgets.VBox([bare, shown])"""

# the jam panel, then a cell that keeps the kernel's main shell busy for the whole benchmark
PANEL = """from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session
from hmm_live.shipped import DEMO_CLIPS
from hmm_live.ui import Panel
session = Session(synth=False)
session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
session.train(epochs=50, background=False)
Panel(session)"""
BUSY = "import time\ntime.sleep(3600)"

# clicks the transport button; resolves with [the state it asked for, the ms until the state line shows it
# (null after 10 s)]: a click that failed (say, a Start with no MIDI port) leaves the next one in step
CLICK = """() => new Promise(resolve => {
    const state = () => document.querySelector(".hmm-panel .hmm-state");
    const line = state().parentElement.parentElement;
    const running = state().dataset.running !== "true";
    const t0 = performance.now();
    const seen = new MutationObserver(() => {
        if (state().dataset.running === String(running)) { seen.disconnect(); resolve([running, performance.now() - t0]); }
    });
    seen.observe(line, {subtree: true, childList: true, attributes: true, characterData: true});
    document.querySelector(".hmm-transport .hmm-play").click();
    setTimeout(() => { seen.disconnect(); resolve([running, null]); }, 10000);
})"""

# resolves with the ms from now until the element `selector` changes in the page
WATCH = """selector => { window.__shown = new Promise(resolve => {
    const roll = document.querySelector(selector);
    const t0 = performance.now();
    const seen = new MutationObserver(() => { seen.disconnect(); resolve(performance.now() - t0); });
    seen.observe(roll, {subtree: true, childList: true, characterData: true});
    setTimeout(() => resolve(null), 5000);
}); }"""


def kernel_latency(session: Session, n: int) -> dict:
    sliders = LatentSliders(session)
    times = []
    for i in range(n):
        start = time.perf_counter()
        sliders.sliders[0].value = -1.5 if i % 2 else 1.5  # what a release does: the observer decodes
        times.append(time.perf_counter() - start)
    sliders.close()
    return stats_ms(times[2:])


def map_flood(session: Session, seconds: float = 3.0, rate: float = 1000.0) -> dict:
    view = SubspaceMap(session)
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        session.bus.publish("points", Point(i, np.array([np.sin(i / 50), np.cos(i / 50)])))
        i += 1
        time.sleep(1.0 / rate)
    time.sleep(0.3)
    view.close()
    return {
        "points_published": i,
        "points_delivered": view.streamed,
        "seconds": seconds,
        "browser_updates_per_s": view.batches / seconds,
    }


@contextlib.contextmanager
def notebook_page(cells: list[str], height: int, until: str) -> Iterator:
    """A Chromium page with a new notebook of these cells open in a JupyterLab, run until `until` shows."""
    root = Path(tempfile.mkdtemp(prefix="hmm_live_bench_ui_"))
    write_notebook(root / "bench.ipynb", cells)
    with jupyter_lab(root) as lab, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": height})
        lab.open(page, "bench.ipynb")
        run_all(page, until)
        yield page


def browser_latency(n: int) -> dict:
    with notebook_page([SETUP, BASELINE], 1400, ".hmm-bare-slider .noUi-handle") as page:
        out = {}
        for name, slider, shown in (
            ("latent_slider_to_roll", ".hmm-latent-sliders", ".hmm-latent-sliders .hmm-piano-roll"),
            ("bare_slider_to_text", ".hmm-bare-slider", ".hmm-bare-shown"),
        ):
            handle = page.locator(f"{slider} .noUi-handle").first
            handle.scroll_into_view_if_needed()
            times, missed = [], 0
            for i in range(n):
                page.evaluate(WATCH, shown)
                handle.press("End" if i % 2 == 0 else "Home")  # the far ends decode to different notes
                seconds = page.evaluate("window.__shown")
                if seconds is None:
                    missed += 1
                else:
                    times.append(seconds / 1000)
            out[name] = {**stats_ms(times), "presses": n, "no_change_seen": missed}
    return out


def transport_latency(n: int) -> dict:
    with notebook_page([PANEL, BUSY], 1000, ".hmm-panel .hmm-state") as page:
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='busy']").first.wait_for(timeout=30_000)
        time.sleep(2)  # the busy cell is running
        panel, panel_when_missed = page.locator(".hmm-panel").first, []
        times: dict[bool, list[float]] = {True: [], False: []}  # starts, stops
        first_start = None
        for i in range(2 * n + 1):
            time.sleep(0.5 if i else 0.0)
            running, ms = page.evaluate(CLICK)
            if ms is None:
                panel_when_missed.append(panel.inner_text())  # what the musician saw instead
            elif i == 0 and running:
                first_start = ms  # it may also start a MIDI system: apart
            else:
                times[running].append(ms / 1000)
        busy = page.locator(".jp-Notebook-ExecutionIndicator[data-status='busy']").count() == 1
    return {
        "first_start_ms": first_start,
        "start": stats_ms(times[True]),
        "stop": stats_ms(times[False]),
        "clicks": 2 * n + 1,
        "not_shown_within_10_s": len(panel_when_missed),
        "panel_when_missed": panel_when_missed,
        "kernel_busy_throughout": busy,
    }


def main() -> None:
    args = arguments(__doc__, "fewer repetitions (CI)").parse_args()
    log("training a session on the demo clips")
    session = Session()
    session.clips = ClipLibrary.from_midi(DEMO_CLIPS)
    session.train(epochs=50, background=False)
    report: dict = {"quick": args.quick}
    log("kernel: slider value -> piano roll")
    report["kernel_release_to_roll"] = kernel_latency(session, 20 if args.quick else 200)
    log("map flood")
    report["map_flood"] = map_flood(session, 1.0 if args.quick else 3.0)
    if CHROMIUM is not None:
        log("browser: key released on a slider -> piano roll drawn")
        report["browser_release"] = browser_latency(6 if args.quick else 40)
        log("browser: Start/Stop clicked while a cell runs -> the state line shows it")
        report["transport"] = transport_latency(3 if args.quick else 20)
    transport = report.get("transport", {})
    browser = report.get("browser_release", {}).get("latent_slider_to_roll", {}).get("p99_ms")
    report["targets"] = [
        target("kernel_release_to_roll_p99_ms", report["kernel_release_to_roll"]["p99_ms"], "<=", 50.0),
        target("browser_release_to_roll_p99_ms", browser, "<=", 50.0),
        target("map_browser_updates_per_s_min", report["map_flood"]["browser_updates_per_s"], ">=", 10.0),
        target("map_browser_updates_per_s_max", report["map_flood"]["browser_updates_per_s"], "<=", 21.0),
        target("transport_start_p99_ms", transport.get("start", {}).get("p99_ms"), "<=", 100.0),
        target("transport_stop_p99_ms", transport.get("stop", {}).get("p99_ms"), "<=", 100.0),
    ]
    emit(report, args.out)


if __name__ == "__main__":
    main()
