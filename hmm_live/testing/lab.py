"""A real JupyterLab and a real Chromium, for the browser tests and the UI benchmark.

Chromium is Debian's (`apt-get install chromium`); Playwright only drives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SETTINGS = {  # no news pop-up; every cell laid out (JupyterLab skips laying out off-screen
    # cells, which then count as invisible); no autosave (a notebook on disk keeps the outputs
    # the test gave it, so a reopened tab starts from what the test says)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


@dataclass
class Lab:
    url: str
    token: str
    log: Path

    def open(self, page, name: str) -> None:
        """Open a notebook in the page and wait until the page is connected to its kernel."""
        _watch_kernel_sockets(page)
        page.goto(f"{self.url}/lab/tree/{name}?reset&token={self.token}")
        wait_for_kernel(page)


def _watch_kernel_sockets(page) -> list[dict]:
    """The page's kernel websockets, each marked ready once the kernel answered its kernel_info_request."""
    if not hasattr(page, "hmm_kernel_sockets"):
        sockets: list[dict] = []

        def opened(ws) -> None:
            if "/api/kernels/" in ws.url:
                state = {"ready": False, "closed": False}
                sockets.append(state)
                ws.on(
                    "framereceived",
                    lambda frame: state.update(
                        ready=state["ready"]
                        or ("kernel_info_reply" in frame if isinstance(frame, str) else b"kernel_info_reply" in frame)
                    ),
                )
                ws.on("close", lambda _ws: state.update(closed=True))

        page.hmm_kernel_sockets = sockets
        page.on("websocket", opened)
    return page.hmm_kernel_sockets


def wait_for_kernel(page, timeout: float = 120) -> None:
    """Wait until the page's kernel answers on an open connection. JupyterLab shows the kernel
    idle before it has connected, and cells run before then stay queued ([*]) for good."""
    sockets = _watch_kernel_sockets(page)
    deadline = time.monotonic() + timeout
    while not any(s["ready"] and not s["closed"] for s in sockets):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the page did not connect to its kernel within {timeout:.0f} s")
        page.wait_for_timeout(200)


def write_notebook(path: Path, cells: list[str]) -> None:
    """A notebook of these code cells that names its kernel: without one, JupyterLab asks for a
    kernel in a dialog and the cells run before the answer may stay queued for good."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(root: Path, env: dict[str, str] | None = None) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 serving `root`, with fresh settings; stopped by PID (SIGINT twice)."""
    state = Path(tempfile.mkdtemp(prefix="hmm_live_lab_"))
    for name, value in SETTINGS.items():
        (state / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (state / "settings" / name).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    log = state / "lab.log"
    env = {
        **os.environ,
        **(env or {}),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--port={port}",
                f"--IdentityProvider.token={token}",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.root_dir={root}",
                "--allow-root",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {log.read_text()[-1000:]}") from None
                time.sleep(0.2)
        yield lab
    finally:
        for _ in range(2):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(state / "settings", ignore_errors=True)


@contextlib.contextmanager
def chromium():
    """A headless Chromium under Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def run_all(page, until: str, timeout: float = 240) -> None:
    """Run every cell of the open notebook (Run menu > Run All Cells) until the element `until`
    shows in the page.

    JupyterLab sometimes answers with a "Select Kernel" dialog instead: accept it and ask again.
    Now and then the page queues the cells ([*]) on a kernel connection that never runs them:
    when the kernel has been idle for 20 s with cells still queued, the page is reloaded and
    asked again. An error shown by a cell ends the wait at once, with its text."""
    deadline = time.monotonic() + timeout
    for _ in range(3):
        _ask_run_all(page)
        idle_since = None
        while time.monotonic() < deadline:
            if page.locator(until).count() and page.locator(until).first.is_visible():
                return
            errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
            if errors.count():
                raise RuntimeError(f"a cell failed before {until!r} showed: {errors.first.inner_text()[-2000:]}")
            idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0
            queued = "[*]" in "".join(page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts())
            idle_since = (idle_since or time.monotonic()) if idle and queued else None
            if idle_since is not None and time.monotonic() - idle_since > 20:
                break  # queued on a kernel that does not run them
            time.sleep(0.5)
        else:
            outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())[-2000:]
            raise TimeoutError(f"{until!r} did not show within {timeout:.0f} s; the cells' outputs: {outputs}")
        page.reload()
    raise RuntimeError("JupyterLab queued the cells but its kernel never ran them")


def _ask_run_all(page) -> None:
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    wait_for_kernel(page)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)
    started = page.locator(".jp-CodeCell .jp-InputPrompt").first
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    for _ in range(5):
        if dialog.count():
            dialog.locator(".jp-mod-accept").click()
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)
        try:
            page.locator(".lm-MenuBar-item", has_text="Run").first.click(timeout=5000)
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click(timeout=5000)
        except Exception:  # a dialog came up in between: accept it and ask again
            page.keyboard.press("Escape")
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not dialog.count():
            if re.search(r"\[(\*|\d+)\]", started.inner_text()):  # running or run
                return
            time.sleep(0.2)
    raise RuntimeError("JupyterLab did not start running the notebook")


def add_cell(page, code: str) -> None:
    """Add `code` as a new cell at the end of the notebook and run it (without waiting)."""
    page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")


def in_kernel(page, code: str, timeout: float = 60.0) -> dict:
    """Run `code` in a new cell at the end of the notebook; it must print one `KERNEL:` JSON line."""
    marker = f"KERNEL{secrets.token_hex(4)}:"
    add_cell(page, code.replace("KERNEL:", marker))
    output = page.locator(".jp-OutputArea-output", has_text=marker).first
    output.wait_for(timeout=timeout * 1000)
    text = output.inner_text()
    return json.JSONDecoder().raw_decode(text[text.index(marker) + len(marker) :].strip())[0]
