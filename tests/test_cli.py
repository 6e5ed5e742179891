"""The hmm-live command as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys

from hmm_live import MusicVAE
from hmm_live.music import read_midi, write_midi

from conftest import randomize
from tf1_checkpoint import write_tf1_checkpoint


def hmm_live(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hmm_live.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_export_then_demo(tmp_path):
    model = randomize(MusicVAE.create("cat-mel_2bar_small", 16, [32], [24, 24]), seed=3)
    prefix = write_tf1_checkpoint(tmp_path / "tf" / "model.ckpt-7", model.weights())
    done = hmm_live("export", str(prefix), str(tmp_path / "js"), "--config", "cat-mel_2bar_small")
    assert done.returncode == 0, done.stderr
    assert MusicVAE.load(tmp_path / "js").spec == model.spec

    a, b = model.sample(2, temperature=1.0, seed=2)
    write_midi(a, tmp_path / "a.mid")  # two clips to morph between
    write_midi(b, tmp_path / "b.mid")
    done = hmm_live("demo", str(tmp_path / "js"), "--out", str(tmp_path / "out"), "-n", "2",
                    "--interpolate", str(tmp_path / "a.mid"), str(tmp_path / "b.mid"), "--steps", "3")
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["interpolation_0.mid", "interpolation_1.mid", "interpolation_2.mid",
                       "sample_0.mid", "sample_1.mid"]
    ends = [read_midi(tmp_path / "out" / f"interpolation_{i}.mid") for i in (0, 2)]
    assert [len(s.notes) for s in ends] == [len(s.notes) for s in model.decode(model.encode([a, b])[1])]


def test_errors_are_one_line(tmp_path):
    done = hmm_live("info", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"hmm-live: error: checkpoint {tmp_path / 'missing'} does not exist"
    assert "Traceback" not in done.stderr


def test_lab_serves_the_notebooks_on_localhost_behind_a_token(tmp_path):
    import re
    import signal
    import threading
    import time
    import urllib.error
    import urllib.request

    from hmm_live.testing.lab import free_port

    port = free_port()  # Jupyter moves to another if it is taken meanwhile: the URL it prints says which
    lab = subprocess.Popen([sys.executable, "-m", "hmm_live.cli", "lab", "--no-browser", "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log = ""
        deadline = time.monotonic() + 90
        while "token=" not in log and time.monotonic() < deadline:
            log += lab.stdout.readline()
        url, token = re.search(r"(http://127\.0\.0\.1:\d+)/lab\S*\?token=(\w+)", log).groups()
        threading.Thread(target=lab.stdout.read, daemon=True).start()  # keep its log flowing
        for _ in range(40):  # the URL is printed a moment before the server listens
            try:
                with urllib.request.urlopen(f"{url}/api/contents?token={token}") as answer:
                    names = {item["name"] for item in json.load(answer)["content"]}
                break
            except urllib.error.URLError:
                time.sleep(0.25)
        assert {"quickstart.ipynb", "subspace.ipynb", "jam.ipynb"} <= names
        try:
            urllib.request.urlopen(f"{url}/api/contents")
            raise AssertionError("the lab answered without its token")
        except urllib.error.HTTPError as e:
            assert e.code == 403
    finally:
        lab.send_signal(signal.SIGINT)
        time.sleep(0.3)
        lab.send_signal(signal.SIGINT)
        lab.wait(20)
