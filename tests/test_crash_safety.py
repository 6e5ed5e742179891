"""A session folder survives a save killed at any instant, a full disk, a read-only
folder and a missing one."""

from __future__ import annotations

import builtins
import errno
import io
import itertools
import json
import os
import shutil
import signal
import time
import traceback
from collections import Counter
from pathlib import Path

import pytest

from hmm_live.files import atomic_folder
from hmm_live.music.clips import ClipLibrary
from hmm_live.session import Session, SessionError, store
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS

# the os calls that change the filesystem (mkdtemp, mkstemp, rmtree and renames go through them);
# an open counts twice: before it, and after it with the file still empty
OS_STEPS = ("open", "mkdir", "rmdir", "unlink", "remove", "rename", "replace", "link", "chmod", "fsync")


def _session(folder: Path, first: int, count: int, trained: bool = False, **settings) -> Session:
    """A session of `count` demo clips from `first`; its MusicVAE's identity computed once, so a
    forked child runs no TensorFlow op (TensorFlow is not fork-safe), only file writes."""
    session = Session(DEFAULT_MODEL, folder, **settings)
    library = ClipLibrary.from_midi(DEMO_CLIPS)
    session.clips = ClipLibrary(library.bars, [(n, library[n].sequence) for n in library.names[first : first + count]])
    if trained:
        session.train(epochs=2, background=False)
    identity = session.musicvae.identity()
    session.musicvae.identity = lambda: identity
    return session


def _state(session: Session) -> tuple:
    return tuple(session.clips.names), session.settings["bpm"], session.settings["mode"], session.trained


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file's bytes by path; session.json without the time it was saved."""
    tree = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    index = json.loads(tree[store.INDEX])
    del index["saved"]
    tree[store.INDEX] = json.dumps(index).encode()
    return tree


def _kill_at(step: int) -> None:
    """From now on, SIGKILL this process at its `step`-th filesystem step."""
    count = itertools.count(1)

    def tick():
        if next(count) == step:
            os.kill(os.getpid(), signal.SIGKILL)

    def counted(call):
        def run(*args, **kwargs):
            tick()
            return call(*args, **kwargs)

        return run

    def counted_open(*args, **kwargs):
        tick()
        f = real_open(*args, **kwargs)
        tick()
        return f

    for name in OS_STEPS:
        setattr(os, name, counted(getattr(os, name)))
    real_open = io.open
    io.open = builtins.open = counted_open


def _save_killed_at(session: Session, folder: Path, step: int) -> bool:
    """Save in a forked child killed at `step`; True if the save ended first (no step left)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _kill_at(step)
            session.save(folder)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while not (done := os.waitpid(pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the save killed at step {step} hung")
        time.sleep(0.002)
    status = done[1]
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return False
    assert os.WEXITSTATUS(status) == 0, f"the save meant to be killed at step {step} failed instead"
    return True


@pytest.mark.parametrize("trained", [False, True], ids=["clips and settings", "trained models"])
def test_a_save_killed_at_any_step_leaves_the_last_or_the_previous_session(tmp_path, trained):
    """Every step of a save, killed: the next open gives the old session or the new one, never
    an empty one, and no temp folder stays (only the old session beside the new one, until
    the next save). Opening a trained session retraces its graphs
    (seconds), so there the folder is compared file by file, and opened where it was recovered."""
    folder = tmp_path / "sessions" / "jam"
    old = _session(folder, 0, 4, trained, bpm=100.0)
    old.save()
    new = _session(folder, 4, 3, bpm=130.0, mode="call_response")
    if trained:
        new.subspacer, new.responder = old.subspacer, old.responder
    trees = {"old": _tree(folder), "new": _tree(new.save(tmp_path / "new" / "jam"))}
    pristine = shutil.copytree(folder.parent, tmp_path / "pristine")
    outcomes: Counter = Counter()
    for step in itertools.count(1):
        finished = _save_killed_at(new, folder, step)
        if trained:
            note = store.recover(folder)
            if note:
                assert _state(Session.open(folder)) == _state(old)
        else:
            opened = Session.open_or_create(folder)
            assert _state(opened) in (_state(old), _state(new)), f"killed at step {step}"
            note = opened.problem
        got = [k for k, tree in trees.items() if _tree(folder) == tree]
        assert got, f"killed at step {step}, the folder is neither the old session nor the new one"
        left = sorted(os.listdir(folder.parent))
        if left == [".jam.old", "jam"]:  # killed after the swap: the old one stays until the next save
            assert got == ["new"]
            assert _tree(folder.parent / ".jam.old") == trees["old"]
        else:
            assert left == ["jam"], f"killed at step {step}, temp folders stayed: {left}"
        assert note is None or "the last save was interrupted" in note
        outcomes[got[0], "recovered" if note else "in place"] += 1
        if finished:
            break
        shutil.rmtree(folder.parent)
        shutil.copytree(pristine, folder.parent)
    print(f"{'trained' if trained else 'untrained'}: {step} steps, {dict(outcomes)}")
    assert outcomes["new", "in place"] >= 1
    assert outcomes["old", "recovered"] == 1  # killed mid-swap once
    assert _state(Session.open(folder)) == _state(new)


def test_a_killed_swap_is_recovered_not_replaced_by_an_empty_session(tmp_path):
    """The reported bug: killed between the swap's renames, open_or_create gave an empty
    session and the next saves deleted the last complete one."""
    folder = tmp_path / "jam"
    _session(folder, 0, 3, bpm=90.0).save()
    folder.rename(tmp_path / ".jam.old")
    (tmp_path / ".jam.abcd1234.tmp").mkdir()  # a killed save's temp folder
    session = Session.open_or_create(folder)
    assert len(session.clips) == 3
    assert session.settings["bpm"] == 90.0
    assert "interrupted" in session.problem
    assert sorted(os.listdir(tmp_path)) == ["jam"]
    session.save()
    session.save()
    assert len(Session.open(folder).clips) == 3
    assert sorted(os.listdir(tmp_path)) == ["jam"]


class _FullFile:
    """A file open for writing whose writes fail as on a full disk."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self._f.name))

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def _break_disk(monkeypatch, error: int, after: int) -> None:
    """After the first `after` files written: ENOSPC fails their writes; EROFS or EACCES fails
    making any file or folder, as a read-only or foreign folder does."""
    real_open, count = io.open, itertools.count()

    def broken_open(file, mode="r", *args, **kwargs):
        if not any(c in mode for c in "wax+") or next(count) < after:
            return real_open(file, mode, *args, **kwargs)
        if error == errno.ENOSPC:
            return _FullFile(real_open(file, mode, *args, **kwargs))
        raise OSError(error, os.strerror(error), str(file))

    def broken_mkdir(path, *args, **kwargs):
        raise OSError(error, os.strerror(error), str(path))

    monkeypatch.setattr(io, "open", broken_open)
    monkeypatch.setattr(builtins, "open", broken_open)
    if error != errno.ENOSPC:
        monkeypatch.setattr(os, "mkdir", broken_mkdir)


@pytest.mark.parametrize(
    "error, after, words",
    [
        (errno.ENOSPC, 2, "No space left on device"),  # the 3rd file: some clips are written, the index is not
        (errno.ENOSPC, 4, "No space left on device"),  # the index
        (errno.EROFS, 0, "Read-only file system"),
        (errno.EACCES, 0, "Permission denied"),
    ],
)
@pytest.mark.parametrize("export", [False, True], ids=["save", "export"])
def test_a_full_disk_or_a_read_only_folder_loses_nothing(tmp_path, monkeypatch, error, after, words, export):
    """Tests run as root, where chmod does not stop writes: the failures are simulated."""
    folder = tmp_path / "jam"
    session = _session(folder, 0, 4, bpm=100.0)
    session.save()
    before = _tree(folder)
    session.configure(bpm=150.0)
    _break_disk(monkeypatch, error, after)
    with pytest.raises(SessionError, match=f"cannot save the session to {folder}.*{words}"):
        session.export(folder) if export else session.save()
    monkeypatch.undo()
    assert _tree(folder) == before
    assert os.listdir(tmp_path) == ["jam"]
    assert Session.open(folder).settings["bpm"] == 100.0


def test_a_session_saves_where_its_folder_is_missing_and_says_where_it_cannot(tmp_path):
    session = _session(tmp_path / "gone" / "deeper" / "jam", 0, 2)
    session.save()  # missing parent folders are made
    assert len(Session.open(tmp_path / "gone" / "deeper" / "jam").clips) == 2
    (tmp_path / "a file").write_text("not a folder")
    with pytest.raises(SessionError, match=r"cannot save the session to .*a file/jam"):
        session.save(tmp_path / "a file" / "jam")
    with pytest.raises(SessionError, match=r"cannot save the session to .*a file/jam"):
        session.export(tmp_path / "a file" / "jam")


def test_atomic_folder_keeps_its_other_callers_working(tmp_path):
    """The checkpoints' `keep` (files carried over) and a failing block (the old folder stays)."""
    folder = tmp_path / "ckpt"
    with atomic_folder(folder) as tmp:
        (tmp / "weights").write_text("1")
        (tmp / "card.md").write_text("mine")
    with atomic_folder(folder, keep=lambda name: name == "card.md") as tmp:
        (tmp / "weights").write_text("2")
    with pytest.raises(RuntimeError), atomic_folder(folder) as tmp:
        (tmp / "weights").write_text("3")
        raise RuntimeError("the block failed")
    assert {p.name: p.read_text() for p in folder.iterdir()} == {"weights": "2", "card.md": "mine"}
    assert os.listdir(tmp_path) == ["ckpt"]


def test_an_export_with_a_damaged_musicvae_spec_is_named(tmp_path):
    """An export carries its MusicVAE; a `network` spec that is a list was an AttributeError."""
    folder = _session(tmp_path / "jam", 0, 2).export(tmp_path / "export")
    own = folder / "musicvae" / "hmm_live.json"
    own.write_text(json.dumps({**json.loads(own.read_text()), "network": [512, 2048]}))
    with pytest.raises(SessionError, match=r"hmm_live.json field 'network': network must be a dict"):
        Session.open(folder)
    assert "field 'network'" in Session.open_or_create(folder).problem


def test_open_or_create_survives_any_failure_but_an_interrupt(tmp_path, monkeypatch):
    folder = _session(tmp_path / "jam", 0, 2).save()

    def fail(error):
        def read(*args, **kwargs):
            raise error

        monkeypatch.setattr(store, "read", read)

    fail(RecursionError("deep"))
    session = Session.open_or_create(folder)
    assert "RecursionError: deep" in session.problem
    assert str(folder) in session.problem
    assert not session.clips
    fail(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        Session.open_or_create(folder)
