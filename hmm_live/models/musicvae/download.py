"""Downloading a magenta-js checkpoint folder over HTTP: resumable, verified, installed atomically.

Files arrive in a staging folder `.NAME.download` beside the target, each as
`FILE.part` until all its bytes are there, so a download cut at any byte (a
dropped connection, a kill, a full disk) goes on from that byte next time
(HTTP Range; a server without Range support sends that file again). config.json
is fetched first and must describe a model hmm_live runs; every shard group must
hold exactly the bytes weights_manifest.json describes; only then does the
staging folder's content replace the target, in one rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from hmm_live import __version__, limits
from hmm_live.errors import CheckpointError, DownloadError, HmmLiveError
from hmm_live.files import atomic_folder

CHUNK_BYTES = 256 * 1024
TRIES = 4  # per file: a connection dropped mid-file is resumed this many times in one run
TIMEOUT_S = 30.0  # per connect and per read
JSON_FILES = ("config.json", "weights_manifest.json")
_USER_AGENT = f"hmm_live/{__version__} (+Python urllib)"


def download(url: str, folder: str | os.PathLike, progress: bool = True) -> Path:
    """Fetch the magenta-js checkpoint at `url` (a folder URL) into `folder`, all or nothing.

    `progress` shows a line on stderr (bytes of the shards, of their total).
    Raises CheckpointError naming the URL or file at fault; DownloadError (one)
    where the server cannot be reached or keeps dropping the connection, its
    message listing the files to fetch by hand and where to put them.
    """
    url = url.rstrip("/")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise CheckpointError(f"checkpoint URL {url!r:.200} is not an http:// or https:// URL")
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.download")
    shards: list[str] = []
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _only_writer(folder), _Progress(folder.name, sys.stderr if progress else None) as shown:
        if complete(folder):  # another process finished it while this one waited
            return folder
        staging.mkdir(parents=True, exist_ok=True)
        try:
            from hmm_live.models.musicvae import checkpoints  # loads TensorFlow: not for `hmm-live models`

            config, manifest = (staging / name for name in JSON_FILES)
            _fetch(f"{url}/{config.name}", config, limits.MAX_JSON_BYTES, shown)
            with _refused_deleted(config):  # an unsupported model is refused before anything else
                checkpoints.read_js_config(staging)
            _fetch(f"{url}/{manifest.name}", manifest, limits.MAX_JSON_BYTES, shown)
            with _refused_deleted(manifest):
                groups = checkpoints.shard_groups(staging)
            shards = [name for names, _ in groups for name in names]
            shown.start(sum(size for _, size in groups), sum(_on_disk(staging / n) for n in shards))
            for names, size in groups:
                _fetch_group(url, staging, names, size, shown)
        except DownloadError as e:
            raise DownloadError(_offline(url, folder, shards, str(e))) from None
        with atomic_folder(folder) as tmp:
            for entry in staging.iterdir():
                if not entry.name.endswith(".part"):
                    os.replace(entry, tmp / entry.name)
        shutil.rmtree(staging, ignore_errors=True)
    return folder


@contextlib.contextmanager
def _refused_deleted(path: Path) -> Iterator[None]:
    """A fetched file the loader's checks refuse is deleted, so a fixed server gets a fresh try."""
    try:
        yield
    except HmmLiveError:
        path.unlink(missing_ok=True)
        raise


def complete(folder: Path) -> bool:
    """A folder installed by `download` (or laid out by hand): its JSON files are there."""
    return all((folder / name).is_file() for name in JSON_FILES)


def _fetch_group(url: str, staging: Path, names: list[str], size: int, shown: _Progress) -> None:
    """A group's shards, each within the bytes left of the group, together exactly `size`."""
    have = 0
    for name in names:
        _fetch(f"{url}/{urllib.parse.quote(name)}", staging / name, size - have, shown)
        have += (staging / name).stat().st_size
    if have != size:
        for name in names:
            (staging / name).unlink(missing_ok=True)
        raise CheckpointError(
            f"{url}: shards {', '.join(names)} hold {have} bytes but its weights_manifest.json describes "
            f"{size}: the server's files do not match its manifest (deleted; fetching again starts them anew)"
        )


def _fetch(url: str, path: Path, limit: int, shown: _Progress) -> None:
    """One file into `path` (unless there already), resuming its `.part`; at most `limit` bytes."""
    if path.is_file():
        return
    part = path.with_name(f"{path.name}.part")
    part.parent.mkdir(parents=True, exist_ok=True)
    reason = ""
    for _ in range(TRIES):
        try:
            _resume(url, part, limit, shown)
        except DownloadError as e:  # dropped, or never made: try again from the byte it stopped at
            reason = str(e)
            continue
        os.replace(part, path)
        return
    raise DownloadError(f"{TRIES} tries of {url} failed, the last: {reason}")


def _resume(url: str, part: Path, limit: int, shown: _Progress) -> None:
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": _USER_AGENT, **({"Range": f"bytes={have}-"} if have else {})}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            if e.headers.get("Content-Range") == f"bytes */{have}":
                return  # all there: a kill came between the last byte and the rename
            _restart(part, have, shown)  # the .part is no prefix of the file (it changed): start again
            raise DownloadError(f"it no longer holds the {have} bytes fetched before") from None
        raise CheckpointError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:  # offline, no such server, refused
        raise DownloadError(f"it cannot be reached: {e.reason}") from None
    except (OSError, http.client.HTTPException) as e:  # closed before the headers, timeout
        raise DownloadError(f"{type(e).__name__}: {e}") from None
    with response:
        expected = _expected_size(response, have)
        if response.status != 206 and have:  # the server ignored Range: the whole file comes again
            _restart(part, have, shown)
            have = 0
        if expected is not None and expected > limit:
            part.unlink(missing_ok=True)
            raise CheckpointError(f"{url} is {expected} bytes, more than the {limit} its checkpoint allows")
        try:
            with open(part, "ab" if have else "wb") as f:
                while chunk := _read(response):
                    have += len(chunk)
                    if have > limit:
                        raise CheckpointError(f"{url} sends more than the {limit} bytes its checkpoint allows")
                    f.write(chunk)
                    shown.add(len(chunk))
        except CheckpointError:
            part.unlink(missing_ok=True)
            raise
        except OSError as e:
            raise CheckpointError(f"cannot write {part}: {e.strerror or e}") from None
    if expected is not None and have != expected:
        raise DownloadError(f"the connection dropped after {have} of {expected} bytes")


def _read(response: http.client.HTTPResponse) -> bytes:
    try:
        return response.read(CHUNK_BYTES)
    except (OSError, http.client.HTTPException) as e:  # reset, timeout, IncompleteRead
        raise DownloadError(f"{type(e).__name__}: {e}") from None


def _expected_size(response: http.client.HTTPResponse, have: int) -> int | None:
    """The whole file's size, where the server says it; a range other than `have`- is refused."""
    if response.status == 206:
        match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != have:
            raise DownloadError(f"asked for bytes {have}-, got {response.headers.get('Content-Range')!r:.60}")
        if match.group(2) != "*":
            return int(match.group(2))
    length = response.headers.get("Content-Length", "")
    if not length.isdigit():
        return None
    return int(length) + (have if response.status == 206 else 0)


def _restart(part: Path, have: int, shown: _Progress) -> None:
    part.unlink(missing_ok=True)
    shown.add(-have)


def _on_disk(path: Path) -> int:
    """Bytes of `path` already fetched: the file, or its .part."""
    for candidate in (path, path.with_name(f"{path.name}.part")):
        if candidate.is_file():
            return candidate.stat().st_size
    return 0


def _offline(url: str, folder: Path, shards: list[str], reason: str) -> str:
    """What to fetch by hand, and where to put it."""
    files = ", ".join(f"{url}/{urllib.parse.quote(n)}" for n in (*JSON_FILES, *shards))
    if not shards:
        files += " and every shard that weights_manifest.json lists (group1-shard1of...)"
    return (
        f"cannot download {folder.name}: {reason}. Offline? Fetch {files} and put them in the folder "
        f"{folder}; or run again to resume"
    )


@contextlib.contextmanager
def _only_writer(folder: Path) -> Iterator[None]:
    """One download per folder at a time, across processes (a lock file beside it)."""
    lock = folder.with_name(f".{folder.name}.lock")
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class _Progress:
    """`NAME: 12.3 of 65.4 MB (18%)` on one line of `stream`, redrawn at most 5 times a second."""

    def __init__(self, name: str, stream: TextIO | None):
        self.name, self.stream = name, stream
        self.total: int | None = None
        self.done = 0
        self._shown_at = 0.0
        self._drawn = False

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._drawn and self.stream is not None:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def start(self, total: int, done: int) -> None:
        """From here on the shards' bytes count (`done` of them are on disk already)."""
        self.total, self.done = total, done
        self._draw()

    def add(self, n: int) -> None:
        if self.total is None:
            return
        self.done += n
        if time.monotonic() - self._shown_at >= 0.2 or self.done >= self.total:
            self._draw()

    def _draw(self) -> None:
        if self.stream is None or self.total is None:
            return
        self._shown_at, self._drawn = time.monotonic(), True
        percent = 100 * self.done // self.total if self.total else 100
        self.stream.write(f"\r{self.name}: {self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB ({percent}%)")
        self.stream.flush()
