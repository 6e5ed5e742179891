"""The notebooks in a real JupyterLab, driven in Debian's Chromium by Playwright.

Screenshots of failures go to $HMM_LIVE_ARTIFACTS (default: the test's tmp folder).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from hmm_live.shipped import NOTEBOOKS
from hmm_live.testing.lab import CHROMIUM, chromium, in_kernel, jupyter_lab, run_all

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

# every point of a Bokeh source named `name`, in whichever Bokeh document holds it
BROWSER_ROWS = """name => {
    for (const doc of Bokeh.documents) {
        const source = doc.get_model_by_name(name);
        if (source) return {rows: source.data.d0.length, d0: Array.from(source.data.d0), d1: Array.from(source.data.d1)};
    }
    return null;
}"""


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
    run_all(page)
    page.locator(".jp-OutputArea-output", has_text="sits at").wait_for(timeout=180_000)
    sliders = page.locator(".hmm-latent-sliders .widget-slider")
    assert sliders.count() == 2
    assert page.locator(".hmm-subspace-map .bk-Canvas").count() >= 1

    # move the first slider with the keyboard: the kernel decodes, the map's cursor moves
    before = in_kernel(page, 'import json; print("KERNEL:" + json.dumps({"decoded": sliders.decoded, '
                             '"x": float(sliders.point[0])}))')
    handle = page.locator(".hmm-latent-sliders .widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    page.wait_for_function(f"() => Math.abs(({BROWSER_ROWS})('hmm_cursor').d0[0] - {before['x']}) > 1e-6",
                           timeout=30_000)
    readout = float(page.locator(".hmm-latent-sliders .widget-readout").first.inner_text())
    after = in_kernel(page, 'print("KERNEL:" + json.dumps({"decoded": sliders.decoded, '
                            '"x": float(sliders.point[0]), "cursor": subspace_map.cursor.data["d0"]}))')
    cursor = page.evaluate(f"({BROWSER_ROWS})('hmm_cursor')")
    assert after["decoded"] > before["decoded"] and after["x"] > before["x"]
    assert after["x"] == pytest.approx(readout, abs=0.006)
    assert after["cursor"][0] == pytest.approx(after["x"]) and cursor["d0"][0] == pytest.approx(after["x"])

    # stream 20 responder points at 50 a second: browser and kernel agree, row for row
    kernel = in_kernel(page, "import time\nimport numpy as np\n"
                             "for i in range(20):\n"
                             "    session.bus.publish('points', {'bar': i, 'point': np.array([i / 10, -i / 10])})\n"
                             "    time.sleep(0.02)\n"
                             "time.sleep(0.5)\n"
                             'print("KERNEL:" + json.dumps({"rows": len(subspace_map.trail.data["d0"]), '
                             '"streamed": subspace_map.streamed}))')
    browser = page.evaluate(f"({BROWSER_ROWS})('hmm_trail')")
    assert kernel["rows"] == kernel["streamed"] == 20
    assert browser["rows"] == 20 and browser["d0"] == pytest.approx([i / 10 for i in range(20)])
    assert (root / "sessions" / "subspace" / "session.json").exists()


def test_jam_notebook_panel_plays_and_retrains(lab, page):
    lab_, _, root = lab
    lab_.open(page, "jam.ipynb")
    run_all(page)
    expect(page.locator(".jp-OutputArea-output", has_text="'answered':")).to_have_count(2, timeout=240_000)
    page.locator(".hmm-panel").wait_for()
    assert page.locator('.hmm-light[data-light="training"][data-state="on"]').count() == 1
    assert page.locator(".hmm-subspace-map .bk-Canvas").count() >= 1
    answered = page.locator(".hmm-last-bars .hmm-roll").nth(1)
    assert int(answered.get_attribute("data-notes")) > 0
    kernel = in_kernel(page, 'import json; print("KERNEL:" + json.dumps({"rows": len(panel.map.trail.data["d0"]), '
                             '"answered": session.engine.answered, "error": session.engine.last_error}))')
    assert kernel["error"] is None and kernel["answered"] >= 8
    browser = page.evaluate(f"({BROWSER_ROWS})('hmm_trail')")
    assert browser["rows"] == kernel["rows"] > 0
    assert (root / "sessions" / "jam" / "responder" / "model.json").exists()
