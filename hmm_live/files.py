"""Atomic file and folder writes: a crash or a full disk never leaves a half-written one."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_UMASK = os.umask(0)
os.umask(_UMASK)
_TEMP = r"\.{}\.[a-z0-9_]{{8}}\.tmp"  # tempfile.mkdtemp's names (and _discard's), ours alone
_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_LOCK = threading.Lock()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, keep: Callable[[str], bool] | None = None) -> Iterator[Path]:
    """Yield a temp folder beside `path` that replaces `path` when the block succeeds.

    Killed at any instant, it leaves `path` whole (old or new), or, between the
    two renames of the swap, `.NAME.old` whole: `recover_folder` (run here and
    by readers) puts it back. Entries of the old folder for which `keep(name)`
    is true, and that the block did not write, are carried over (hard-linked
    where possible). One writer at a time per folder (a lock in this process).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock(path):
        recover_folder(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            os.chmod(tmp, 0o777 & ~_UMASK)
            yield tmp
            if keep is not None and path.is_dir():
                for entry in path.iterdir():
                    if keep(entry.name) and not (tmp / entry.name).exists():
                        if entry.is_dir():
                            shutil.copytree(entry, tmp / entry.name, copy_function=_link_or_copy)
                        else:
                            _link_or_copy(entry, tmp / entry.name)
            _swap(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def recover_folder(path: str | os.PathLike) -> bool:
    """Undo a swap a kill cut short (`path` missing, `.NAME.old` whole: rename it back)
    and delete the temp folders of killed writes. True if a folder was recovered."""
    path = Path(path)
    with _lock(path):
        recovered = recoverable(path)
        if recovered:
            os.replace(_old(path), path)
        for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if re.fullmatch(_TEMP.format(re.escape(path.name)), leftover.name) and leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
    return recovered


def recoverable(path: str | os.PathLike) -> bool:
    """True where a kill cut a swap short: `path` missing, `.NAME.old` (always whole) there."""
    path = Path(path)
    return not path.exists() and _old(path).is_dir()


def _lock(path: Path) -> threading.RLock:
    """A lock per folder, so a save or an open in this process never deletes another save's temp folder."""
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(path.resolve(), threading.RLock())


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _swap(tmp: Path, path: Path) -> None:
    """tmp becomes path. `.NAME.old` is only ever a whole folder, the one before: a kill while
    deleting it leaves a temp folder (`_discard`), never half of it under that name."""
    if not path.exists():
        os.replace(tmp, path)
        return
    old = _old(path)
    if old.exists():  # the one before `path`, left by a save killed after its swap
        _discard(old, path)
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    _discard(old, path)


def _discard(folder: Path, path: Path) -> None:
    """Delete `folder` under a temp name of `path`, so a kill while deleting leaves only a temp folder."""
    trash = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def cache_dir(name: str) -> Path:
    """A folder for data that can be made again (HMM_LIVE_CACHE, else ~/.cache/hmm_live)."""
    root = os.environ.get("HMM_LIVE_CACHE") or Path.home() / ".cache" / "hmm_live"
    return Path(root) / name


def _link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
