"""The headless jam demo: a performer and the engine, written to a MIDI file."""

from __future__ import annotations

import re


def test_headless_jam_demo_writes_the_duet(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "jam.mid"
    done = subprocess.run(
        [sys.executable, "-m", "hmm_live.cli", "jam", "--demo", "--bars", "4", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 of 4 bars answered" in done.stdout
    assert len([line for line in done.stdout.splitlines() if line.startswith("bar ")]) == 4
    from hmm_live.music import read_midi

    duet = read_midi(out)
    assert {n.instrument for n in duet.notes} == {0, 1}  # the performance and the answers


def test_the_drum_demo_answers_the_drum_clips_with_drums_in_4d(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "drums.mid"
    jam = ["jam", "--demo", "--drums", "--dims", "4", "--bars", "4", "--bpm", "240", "--no-ports", "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "hmm_live.cli", *jam], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained a 4-D subspace and a responder on 16 clips" in done.stdout
    assert "4 of 4 bars answered" in done.stdout
    from hmm_live.music import read_midi

    duet = read_midi(out)
    assert {n.instrument for n in duet.notes} == {0, 1}  # the drum clips and the drum answers
    assert all(n.is_drum for n in duet.notes)
    for part in (0, 1):  # the clips' ghost notes and accents, played and answered
        assert len({n.velocity for n in duet.notes if n.instrument == part}) > 5


def test_the_demo_with_a_drummer_writes_its_drums_as_a_third_part(tmp_path):
    import subprocess
    import sys

    from hmm_live.music import read_midi
    from tests.support import groove_model

    drummer = groove_model(1, "tap2drum", seed=2).export(tmp_path / "tap2drum")
    out = tmp_path / "trio.mid"
    jam = ["jam", "--demo", "--bars", "3", "--bpm", "240", "--no-ports", "--drummer", str(drummer), "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "hmm_live.cli", *jam], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3 of 3 bars answered, 3 drummed to" in done.stdout
    assert len(re.findall(r"^bar +\d+: .* drums \d+ hits$", done.stdout, re.M)) == 3
    drums = [n for n in read_midi(out).notes if n.instrument == 2]
    assert drums
    assert all(n.is_drum for n in drums)
    bar, step = 1.0, 1.0 / 16  # seconds, at 240 BPM
    assert min(n.start_time for n in drums) >= bar - step / 2  # from bar 1 on, at most half a step early
