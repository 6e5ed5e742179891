"""The hmm-live command as a user runs it."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from hmm_live import MusicVAE
from hmm_live.music import from_notes, read_midi, write_midi
from tests.support import groove_model, random_multitrack, randomize
from tests.tf1_checkpoint import write_tf1_checkpoint

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mel_2bar_folk"
HEAVY = ("tensorflow", "keras", "jupyterlab", "rtmidi", "hmm_live.models", "hmm_live.session")
# runs the CLI in a fresh interpreter and reports, at exit, which heavy modules it imported
PROBE = (
    "import atexit, json, sys\n"
    f"atexit.register(lambda: print('HEAVY', json.dumps([m for m in {HEAVY!r} if m in sys.modules])))\n"
    "from hmm_live.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def hmm_live(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hmm_live.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def probe(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `hmm-live ARGS`; also return the heavy modules it imported before exiting."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300)
    heavy = re.search(r"^HEAVY (\[.*\])$", done.stdout, re.M)
    assert heavy, done.stdout + done.stderr
    return done, json.loads(heavy.group(1))


def test_export_then_sample(tmp_path):
    model = randomize(MusicVAE.create("cat-mel_2bar_small", 16, [32], [24, 24]), seed=3)
    prefix = write_tf1_checkpoint(tmp_path / "tf" / "model.ckpt-7", model.weights())
    done = hmm_live("export", str(prefix), str(tmp_path / "js"), "--config", "cat-mel_2bar_small")
    assert done.returncode == 0, done.stderr
    assert MusicVAE.load(tmp_path / "js").spec == model.spec

    a, b = model.sample(2, temperature=1.0, seed=2)
    write_midi(a, tmp_path / "a.mid")  # two clips to morph between
    write_midi(b, tmp_path / "b.mid")
    done = hmm_live(
        "sample",
        str(tmp_path / "js"),
        "--out",
        str(tmp_path / "out"),
        "-n",
        "2",
        "--interpolate",
        str(tmp_path / "a.mid"),
        str(tmp_path / "b.mid"),
        "--steps",
        "3",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # TensorFlow ran, and said nothing
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [
        "interpolation_0.mid",
        "interpolation_1.mid",
        "interpolation_2.mid",
        "sample_0.mid",
        "sample_1.mid",
    ]
    ends = [read_midi(tmp_path / "out" / f"interpolation_{i}.mid") for i in (0, 2)]
    assert [len(s.notes) for s in ends] == [len(s.notes) for s in model.decode(model.encode([a, b])[1])]


def test_sample_and_interpolate_a_multitrack_folder(tmp_path):
    """MIDI files are sliced at the model's own grid (24 steps per quarter) for its 1-bar window."""
    model = MusicVAE.create("hier-multiperf_vel_1bar_med", 8, [16, 16], [16])
    model = randomize(model, seed=6)
    model.export(tmp_path / "js")
    rng = np.random.default_rng(1)
    for name, programs in (("a", [0, None]), ("b", [33, 40])):
        write_midi(random_multitrack(rng, programs, 4), tmp_path / f"{name}.mid")
    out = tmp_path / "out"
    done = hmm_live(
        "sample",
        str(tmp_path / "js"),
        "--out",
        str(out),
        "-n",
        "1",
        "--interpolate",
        str(tmp_path / "a.mid"),
        str(tmp_path / "b.mid"),
        "--steps",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["interpolation_0.mid", "interpolation_1.mid", "sample_0.mid"]


def test_errors_are_one_line(tmp_path):
    done = hmm_live("info", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"hmm-live: error: checkpoint {tmp_path / 'missing'} does not exist"
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command",
    [[], ["sample"], ["info"], ["export"], ["train-musicvae"], ["jam"], ["lab"], ["eval"], ["models"], ["fetch"]],
)
def test_help_loads_nothing_heavy(command):
    done, heavy = probe(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: hmm-live" in done.stdout
    assert heavy == []
    assert done.stderr == ""


def test_models_lists_the_published_names_without_tensorflow():
    done, heavy = probe("models")
    assert done.returncode == 0, done.stderr
    assert "mel_4bar_small_q2" in done.stdout
    assert "tensorflow" not in heavy


@pytest.mark.parametrize(
    "args, message",
    [
        (["jam", "--bpm", "0"], "argument --bpm: must be between 20 and 400, got 0"),
        (["jam", "--bpm", "nan"], "argument --bpm: must be between 20 and 400, got nan"),
        (["jam", "--lead", "1.5"], "argument --lead: must be between 0 and 1, got 1.5"),
        (["jam", "--temperature", "0"], "argument --temperature: must be > 0, got 0"),
        (["jam", "--demo", "--bars", "0"], "argument --bars: must be >= 1, got 0"),
        (["jam", "--demo", "--session", "s", "--no-synth"], "--session, --no-synth: not with --demo"),
        (["jam", "--out", "x.mid"], "--out: only with --demo"),
        (["jam", "--demo", "--humanize", "--drums"], "--humanize: not with --demo"),
        (["jam", "--dims", "5"], "argument --dims: must be between 2 and 4, got 5"),
        (["jam", "--drums", "--dims", "1"], "argument --dims: must be between 2 and 4, got 1"),
        (["jam", "--demo", "--dims", "four"], "argument --dims: must be an integer between 2 and 4, got 'four'"),
        (["sample", "-n", "0"], "argument -n: must be >= 1, got 0"),
        (["sample", "--steps", "1"], "argument --steps: must be >= 2, got 1"),
        (["sample", "--temperature", "-1"], "argument --temperature: must be > 0, got -1"),
        (["lab", "--port", "99999"], "argument --port: must be between 1 and 65535, got 99999"),
        (["lab", "--port", "eighty"], "argument --port: must be an integer between 1 and 65535, got 'eighty'"),
        (["train-musicvae", "x", "--out", "o", "--steps", "-5"], "argument --steps: must be >= 1, got -5"),
        (
            ["train-musicvae", "x", "--out", "o", "--decoder-sizes", "256,0"],
            "argument --decoder-sizes: sizes are comma-separated positive integers, got '256,0'",
        ),
        (["train-musicvae", "x", "--out", "o", "--learning-rate", "0"], "argument --learning-rate: must be > 0, got 0"),
    ],
)
def test_bad_arguments_are_refused_before_anything_loads(args, message):
    done, heavy = probe(*args)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"hmm-live {args[0]}: error: {message}")
    assert heavy == []
    assert "Traceback" not in done.stderr


def test_demo_is_the_deprecated_name_of_sample(monkeypatch, capsys):
    from hmm_live import cli

    ran = []
    monkeypatch.setattr(cli, "_sample", lambda args: ran.append(args.n) or 0)
    assert cli.main(["demo", "-n", "3"]) == 0
    assert ran == [3]
    assert capsys.readouterr().err == (
        "hmm-live: warning: 'demo' is deprecated, use 'hmm-live sample' (the old name goes in the next release)\n"
    )
    assert cli.main(["sample", "-n", "2"]) == 0
    assert ran == [3, 2]
    assert capsys.readouterr().err == ""


def test_a_port_in_use_is_refused_before_jupyter_starts():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done, heavy = probe("lab", "--no-browser", "--port", str(port))
    assert done.returncode == 2
    assert (
        done.stderr.strip() == f"hmm-live: error: port {port} on 127.0.0.1 is in use (another Jupyter?): "
        f"choose another --port"
    )
    assert heavy == []


def test_a_wrong_config_is_named_never_ignored(tmp_path):
    done = hmm_live("info", str(tmp_path / "missing"), "--config", "cat-mel_2bar_smal")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]  # about the name: the checkpoint was not even looked for
    assert last.startswith(
        "hmm-live info: error: argument --config: unknown MusicVAE config 'cat-mel_2bar_smal'; known: "
    )
    assert "cat-mel_2bar_small" in last

    done = hmm_live("info", str(SHIPPED), "--config", "cat-mel_2bar_big")  # a folder names its own config
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"hmm-live: error: --config 'cat-mel_2bar_big' does not match {SHIPPED}, which "
        f"holds a cat-mel_2bar_small model: leave --config out for folders, they name "
        f"their own"
    )
    done = hmm_live("info", str(SHIPPED), "--config", "cat-mel_2bar_small")
    assert done.returncode == 0
    assert "cat-mel_2bar_small" in done.stdout


def test_lab_serves_the_notebooks_on_the_port_asked_behind_a_token(tmp_path):
    """Even opened to the network by --ip, with a user's Jupyter config that empties the token:
    a warning, a token all the same, and no terminals."""
    import urllib.error
    import urllib.request

    from hmm_live.testing.lab import free_port

    config = tmp_path / "jupyter"
    config.mkdir()
    (config / "jupyter_server_config.py").write_text('c.ServerApp.token = ""\nc.IdentityProvider.token = ""\n')
    port = free_port()
    lab = subprocess.Popen(
        [sys.executable, "-m", "hmm_live.cli", "lab", "--no-browser", "--port", str(port), "--ip", "0.0.0.0"],
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        log = ""
        deadline = time.monotonic() + 90
        while not re.search(r"127\.0\.0\.1:\d+/lab\S*\?token=\w+", log) and time.monotonic() < deadline:
            log += lab.stdout.readline()
        assert "WARNING: serving on 0.0.0.0" in log
        url, token = re.search(r"(http://127\.0\.0\.1:\d+)/lab\S*\?token=(\w+)", log).groups()
        assert url == f"http://127.0.0.1:{port}"
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
        try:
            urllib.request.urlopen(f"{url}/api/terminals?token={token}")
            raise AssertionError("the lab offers terminals")
        except urllib.error.HTTPError as e:
            assert e.code == 404
    finally:
        lab.send_signal(signal.SIGINT)
        time.sleep(0.3)
        lab.send_signal(signal.SIGINT)
        lab.wait(20)


def test_pitch_names_and_bar_lines():
    from hmm_live.jam_terminal import bar_line, pitch_name
    from hmm_live.live.messages import Answer, CapturedBar, Drums

    assert [pitch_name(p) for p in (21, 60, 61, 64, 127)] == ["A0", "C4", "C#4", "E4", "G9"]
    played = from_notes([(67, 4, 8), (64, 0, 4)], 16)
    answer = Answer(
        bar=3, answering=2, sequence=from_notes([(72, 0, 16)], 16), input=played, time=6.0, step_seconds=0.125
    )
    assert (
        bar_line(CapturedBar(bar=3, sequence=played, time=4.0, closed_at=5.9), answer)
        == "bar    4 | you: 2 notes: E4 G4 | machine: 1 note: C5 (answering bar 3)"
    )
    rest = CapturedBar(bar=0, sequence=from_notes([], 16), time=0.0, closed_at=1.9)
    assert bar_line(rest, None) == "bar    1 | you: rest | machine: rest"
    drums = Drums(
        bar=3, drumming=2, sequence=from_notes([(36, 0, 1), (42, 2, 3)], 16), input=played, time=6.0, step_seconds=0.125
    )
    assert bar_line(rest, None, drums) == "bar    1 | you: rest | machine: rest | drums: 2 hits"


@pytest.mark.parametrize("option", ["--drummer", "--humanize"])
def test_a_drummer_that_is_no_model_is_named(option):
    done, _ = probe("jam", option, "tap2drum_9bar")
    assert done.returncode == 2
    assert "error: the " in done.stderr
    assert "model 'tap2drum_9bar' is neither a published name" in done.stderr


class Lines:
    """A process's output, line by line, read by a thread (a blocked read never hangs the test)."""

    def __init__(self, proc: subprocess.Popen):
        self.all: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=lambda: [self._queue.put(line) for line in proc.stdout], daemon=True)
        self._reader.start()

    def text(self) -> str:
        """Everything the process wrote (call once it has exited)."""
        self._reader.join(10)
        while not self._queue.empty():
            self.all.append(self._queue.get())
        return "".join(self.all)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """The first line from now on that matches; fails after a generous deadline (not a timing check)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{''.join(self.all)}") from None
            self.all.append(line)
            if found := re.search(pattern, line):
                return found


def test_terminal_jam_shows_each_bar_and_stops_cleanly_on_ctrl_c(jack, tmp_path):
    from hmm_live.live import ports

    drummer = groove_model(1, "tap2drum", seed=2).export(tmp_path / "tap2drum")
    synth = ports.open_input("cli test synth", virtual=True, api="jack")
    jam = ["jam", "--bpm", "240", "--no-synth", "--output", "cli test synth", "--drummer", str(drummer)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hmm_live.cli", *jam],
        env={**os.environ, "HMM_LIVE_MIDI_API": "jack"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # Ctrl-C as in a terminal
    try:
        lines = Lines(proc)
        assert "hmm_live in" in lines.wait_for(r"^  play into: ", 300).string
        assert "cli test synth" in lines.wait_for(r"^  answers out: ", 10).string
        lines.wait_for(r"^playing: ", 30)
        keyboard = ports.open_output(ports.IN_PORT, api="jack")
        time.sleep(0.3)  # JACK carries a new connection's MIDI from a later cycle: a note sent at once is lost
        for _ in range(2):  # E4 G4 B4 in quarter notes and a rest: a bar at 240 BPM
            for pitch in (64, 67, 71):
                keyboard.send(mido.Message("note_on", note=pitch, velocity=90))
                time.sleep(0.2)
                keyboard.send(mido.Message("note_off", note=pitch))
                time.sleep(0.05)
            time.sleep(0.25)
        keyboard.close()
        answered = lines.wait_for(
            r"^bar +(\d+) \| you: .* \| machine: \d+ notes?: [A-G#0-9 ]+ \(answering bar (\d+)\) \| drums: \d+ hits$",
            20,
        )
        assert int(answered.group(2)) == int(answered.group(1)) - 1
        lines.wait_for(r"^bar +\d+ \| you: rest \|", 20)  # the phrase may span three bars: all of them shown
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        output = lines.text()
    except BaseException:
        synth.close()
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert "stopping: all notes off" in output
    shown = [int(n) for n in re.findall(r"^bar +(\d+) \|", output, re.M)]
    assert shown[0] >= 1
    assert shown == list(range(shown[0], shown[0] + len(shown)))
    played = re.findall(r"^bar +\d+ \| you: \d+ notes?: ([A-G#0-9 ]+) \|", output, re.M)
    assert sorted({name for names in played for name in names.split()}) == ["B4", "E4", "G4"]
    assert sum(len(names.split()) for names in played) == 6, output

    time.sleep(0.2)  # what the engine sent last is delivered within a JACK period
    sounding, answered_notes = set(), 0
    for message in synth.iter_pending():
        if message.type == "note_on" and message.velocity > 0:
            sounding.add(message.note)
            answered_notes += 1
        elif message.type in ("note_on", "note_off"):
            sounding.discard(message.note)
    synth.close()
    assert answered_notes > 0  # the answers came out
    assert sounding == set()  # and none is left stuck


def test_the_clock_the_cli_checks_tempi_with_is_light():
    """The CLI imports the clock's BPM_RANGE at once: that must load neither the models nor note_seq."""
    heavy = (*HEAVY, "note_seq", "hmm_live.music", "hmm_live.live.engine")
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, hmm_live.live.clock\nprint([m for m in {heavy!r} if m in sys.modules])"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
