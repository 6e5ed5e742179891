"""The notebooks run top to bottom headless (nbclient), with the demo input over JACK,
and a second run of a notebook restores the session the first one saved.

No cell of a notebook waits for the music or for training (the panel works while
cells run); where a test needs the music played, it adds its own waiting cell.
"""

from __future__ import annotations

import ast
import re
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from hmm_live.session import Session
from hmm_live.shipped import NOTEBOOKS

# the test's own last cell in the jam notebook: let the retraining end and the demo play on
JAM_WAIT = """import time
session.wait()
deadline = time.monotonic() + 120
while session.engine.answered < 11 and time.monotonic() < deadline:
    time.sleep(0.5)
session.save()
print(session.engine.status())"""


@pytest.fixture
def run(tmp_path, monkeypatch, jack):
    """Run a notebook in tmp_path (a kernel inherits this environment), plus `extra` code as a
    last cell; returns its outputs as text. Nothing may go to stderr (a red box in JupyterLab)."""
    monkeypatch.setenv("HMM_LIVE_DEMO", "1")
    monkeypatch.setenv("HMM_LIVE_MIDI_API", "jack")

    def run(name: str, extra: str | None = None) -> str:
        shutil.copy(NOTEBOOKS / name, tmp_path / name)
        notebook = nbformat.read(tmp_path / name, as_version=4)
        if extra is not None:
            notebook.cells.append(nbformat.v4.new_code_cell(extra))
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
        stderr = [o["text"] for o in outputs if o.get("name") == "stderr"]
        assert not stderr, f"{name} wrote to stderr: {stderr}"
        return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)

    return run


def test_quickstart(run, tmp_path):
    text = run("quickstart.ipynb")
    assert "MusicVAE(config='cat-mel_2bar_small'" in text
    assert "Audio(value=" in text
    assert (tmp_path / "exports" / "morph_middle.mid").stat().st_size > 0


def test_subspace_saves_exports_and_is_restored(run, tmp_path):
    first = run("subspace.ipynb")
    assert "Session(16 clips, untrained" in first
    assert "decoded in" in first
    assert Session.open(tmp_path / "exports" / "subspace").trained
    second = run("subspace.ipynb")
    assert re.search(r"Session\(16 clips, (\w+)", second).group(1) == "trained"  # restored before training


def test_jam_answers_the_demo_and_retrains(run, tmp_path):
    text = run("jam.ipynb", JAM_WAIT)
    assert "Traceback" not in text
    status = ast.literal_eval(text.strip().splitlines()[-1])  # the test's last cell prints the engine's status
    assert status["answered"] >= 11
    assert status["last_error"] is None
    session = Session.open(tmp_path / "sessions" / "jam")
    assert session.trained
    assert session.settings["epochs"] is None  # trained until the clips decode back
