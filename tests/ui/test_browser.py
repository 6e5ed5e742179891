"""The notebooks in a real JupyterLab, driven in Debian's Chromium by Playwright.

Screenshots of failures go to $HMM_LIVE_ARTIFACTS (default: the test's tmp folder).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path

import pytest

from hmm_live.shipped import NOTEBOOKS
from hmm_live.testing.lab import CHROMIUM, add_cell, chromium, in_kernel, jupyter_lab, run_all
from tests import support

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

# every point of a Bokeh source named `name`, in whichever Bokeh document holds it
BROWSER_ROWS = """name => {
    for (const doc of Bokeh.documents) {
        const source = doc.get_model_by_name(name);
        if (source) return {rows: source.data.d0.length, d0: Array.from(source.data.d0), d1: Array.from(source.data.d1)};
    }
    return null;
}"""

# the piano roll's pitch axis: its ticks as labelled, and the notes drawn per kind
BROWSER_ROLL = """() => {
    for (const doc of Bokeh.documents) {
        const axis = doc.get_model_by_name("hmm_roll_pitch_axis");
        if (!axis) continue;
        const overrides = axis.major_label_overrides;
        const label = t => overrides instanceof Map ? overrides.get(t) ?? overrides.get(String(t)) : overrides[t];
        const rows = {};
        for (const kind of ["played", "answered", "plan"])
            rows[kind] = doc.get_model_by_name(`hmm_roll_${kind}`).data.x0.length;
        return {labels: axis.ticker.ticks.map(label), rows};
    }
    return null;
}"""

# what the panel shows of the engine, and what the kernel says, at once
KERNEL_STATE = (
    "import json, time\n"
    "engine = session.engine\n"
    'print("KERNEL:" + json.dumps({"running": engine.status()["running"], "bar": '
    "int(engine.clock.step_at(time.monotonic()) // 16) + 1 if engine.running else None}))"
)


def shown_state(page) -> dict:
    state = page.locator(".hmm-panel .hmm-state").first
    button = page.locator(".hmm-transport .hmm-play").first
    return {
        "running": state.get_attribute("data-running") == "true",
        "bar": state.get_attribute("data-bar"),
        "button": button.inner_text().strip(),
    }


wait_until = functools.partial(support.wait_until, poll=0.25)  # the page is asked 4 times a second at most


@pytest.fixture(scope="module")
def lab(tmp_path_factory, jack):
    root = tmp_path_factory.mktemp("lab")
    for notebook in ("subspace.ipynb", "jam.ipynb"):
        shutil.copy(NOTEBOOKS / notebook, root / notebook)
    env = {"HMM_LIVE_DEMO": "1", "HMM_LIVE_MIDI_API": "jack", "JACK_DEFAULT_SERVER": jack}
    with jupyter_lab(root, env) as lab, chromium() as browser:
        yield lab, browser, root


@pytest.fixture
def page(lab, request, tmp_path):
    lab_, browser, _ = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    if getattr(request.node, "failed", False):
        shots = Path(os.environ.get("HMM_LIVE_ARTIFACTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        path = shots / f"{request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}\nlab log: {lab_.log}")
    context.close()


def test_subspace_notebook_sliders_and_map(lab, page):
    lab_, _, root = lab
    lab_.open(page, "subspace.ipynb")
    run_all(page, until='.jp-OutputArea-output:has-text("sits at")')
    sliders = page.locator(".hmm-latent-sliders .widget-slider")
    assert sliders.count() == 2
    assert page.locator(".hmm-subspace-map .bk-Canvas").count() >= 1

    # move the first slider with the keyboard: the kernel decodes, the map's cursor moves
    before = in_kernel(
        page, 'import json; print("KERNEL:" + json.dumps({"decoded": sliders.decoded, "x": float(sliders.point[0])}))'
    )
    handle = page.locator(".hmm-latent-sliders .widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    page.wait_for_function(
        f"() => Math.abs(({BROWSER_ROWS})('hmm_cursor').d0[0] - {before['x']}) > 1e-6", timeout=30_000
    )
    readout = float(page.locator(".hmm-latent-sliders .widget-readout").first.inner_text().replace("\u2212", "-"))
    after = wait_until(  # every intermediate value is decoded (and heard): poll for the last one
        lambda: (
            (
                k := in_kernel(
                    page,
                    'print("KERNEL:" + json.dumps({"decoded": sliders.decoded, "x": '
                    'float(sliders.point[0]), "cursor": subspace_map.cursor.data["d0"]}))',
                )
            )
            and abs(k["x"] - readout) < 0.006
            and abs(k["cursor"][0] - k["x"]) < 1e-6  # the map's cursor follows the point, after its decode
            and k
        ),
        60,
        "the kernel decodes the slider's last value and moves the map's cursor there",
    )
    cursor = wait_until(
        lambda: (c := page.evaluate(f"({BROWSER_ROWS})('hmm_cursor')"))["d0"][0] == pytest.approx(after["x"]) and c,
        30,
        "the page's map cursor at the slider's last value",
    )
    assert after["decoded"] > before["decoded"]
    assert after["x"] > before["x"]
    assert after["x"] == pytest.approx(readout, abs=0.006)
    assert after["cursor"][0] == pytest.approx(after["x"])
    assert cursor["d0"][0] == pytest.approx(after["x"])
    # no engine runs here: the decoded point is heard in the page
    wait_until(
        lambda: (page.locator(".hmm-latent-sliders audio").get_attribute("src") or "").startswith("blob:"),
        30,
        "the decoded point is given to the page's audio player",
    )

    # stream 20 responder points at 50 a second: browser and kernel agree, row for row
    kernel = in_kernel(
        page,
        "import time\nimport numpy as np\nfrom hmm_live.live.messages import Point\n"
        "for i in range(20):\n"
        "    session.bus.publish('points', Point(i, np.array([i / 10, -i / 10])))\n"
        "    time.sleep(0.02)\n"
        "time.sleep(0.5)\n"
        'print("KERNEL:" + json.dumps({"rows": len(subspace_map.trail.data["d0"]), '
        '"streamed": subspace_map.streamed}))',
    )
    browser = page.evaluate(f"({BROWSER_ROWS})('hmm_trail')")
    assert kernel["rows"] == kernel["streamed"] == 20
    assert browser["rows"] == 20
    assert browser["d0"] == pytest.approx([i / 10 for i in range(20)])
    assert (root / "sessions" / "subspace" / "session.json").exists()


def test_jam_panel_follows_the_engine_and_survives_a_reload(lab, page):
    lab_, _, root = lab
    lab_.open(page, "jam.ipynb")
    run_all(page, until=".hmm-panel")

    # started from code: the panel says so; the roll fills with pitch-named notes
    wait_until(
        lambda: shown_state(page)["running"] and shown_state(page)["button"] == "Stop",
        120,
        "the panel shows the engine started from code",
    )
    roll = wait_until(
        lambda: (r := page.evaluate(BROWSER_ROLL)) and r["rows"]["played"] and r["rows"]["answered"] and r,
        120,
        "the roll shows what was played and answered",
    )
    assert roll["labels"], roll
    assert all(re.fullmatch(r"[A-G]#?-?\d", label) for label in roll["labels"]), roll
    for _ in range(20):  # the bar counter is the engine's bar (counted from 1): poll past bar lines
        kernel, shown = in_kernel(page, KERNEL_STATE), shown_state(page)
        if kernel["running"] == shown["running"] and str(kernel["bar"]) == shown["bar"]:
            break
    else:
        raise AssertionError(f"the panel shows {shown}, the kernel says {kernel}")

    # Stop and Start act while a cell keeps the kernel's main shell busy (once the demo performance
    # is over: what stopping does to a performance still playing is the session's tests' business)
    in_kernel(page, 'performer.join(); print("KERNEL:{}")', timeout=120)
    add_cell(page, "time.sleep(40)")
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='busy']").first.wait_for(timeout=30_000)
    button = page.locator(".hmm-transport .hmm-play").first
    button.click()
    wait_until(
        lambda: not shown_state(page)["running"] and shown_state(page)["button"] == "Start",
        30,
        "Stop acted while a cell ran",
    )
    button.click()
    wait_until(
        lambda: shown_state(page)["running"] and shown_state(page)["button"] == "Stop",
        30,
        "Start acted while a cell ran",
    )
    assert page.locator(".jp-Notebook-ExecutionIndicator[data-status='busy']").count() == 1  # still sleeping
    kernel = in_kernel(page, KERNEL_STATE, timeout=120)  # runs after the sleep: nothing was queued
    assert kernel["running"]
    assert shown_state(page)["running"]
    ports = page.locator(".hmm-port-picker .hmm-port")
    status = in_kernel(page, 'print("KERNEL:" + json.dumps(session.engine.status()["ports"]))')
    assert [ports.nth(i).inner_text() for i in range(ports.count())] == [status["input"], status["output"]]
    assert (root / "sessions" / "jam" / "responder" / "model.json").exists()

    # the notebook reopened (as on disk: no outputs) and run again on the same kernel: every view draws
    button.click()
    wait_until(lambda: not shown_state(page)["running"], 30, "stopped")
    page.reload()
    run_all(page, until=".hmm-panel")
    wait_until(lambda: page.locator(".hmm-panel .bk-Canvas").count() >= 3, 120, "roll, map and loss curve drawn")
    wait_until(lambda: shown_state(page)["running"], 120, "the second run's engine shown")
    assert page.get_by_text("javascript error").count() == 0
    wait_until(lambda: (r := page.evaluate(BROWSER_ROLL)) and r["rows"]["answered"], 120, "answers drawn again")
