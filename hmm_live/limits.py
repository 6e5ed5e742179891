"""What hmm_live reads, and the bounds it checks before allocating or following anything.

A small edit to a model folder or a 40-byte MIDI file must not run the
process out of memory or time, nor read files outside the folder it names.
Every reader goes through these helpers, so every refusal is an
HmmLiveError naming the file and the field or bound at fault.

Network bounds come from Magenta's published MusicVAE models (the biggest:
2048-unit LSTMs, z of 512, 256 steps, 512 drum classes) with generous room.
MIDI bounds keep the worst case parse (mido and pretty_midi are pure
Python, about 10 us per event here) to a few seconds and well under 1 GiB.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral, Real
from pathlib import Path
from typing import Any, TypeGuard, TypeVar, overload

from hmm_live.errors import CheckpointError, ConfigError, HmmLiveError

# Networks and converters (Magenta's biggest in brackets).
MAX_STEPS = 4096  # numSteps, 16ths [256: 16 bars]
MAX_SEGMENTS = 256  # numSegments, bars of a hierarchical decoder [16]
MAX_LAYER_SIZE = 8192  # LSTM units per layer [2048]
MAX_LAYERS = 8  # stacked LSTM layers [3]
MAX_Z = 4096  # latent size [512]
MAX_DEPTH = 4096  # input/output classes and control width [512 drum classes]
MAX_DRUM_CLASSES = 12  # 2 ** classes outputs must stay within MAX_DEPTH [9]

# Checkpoint files.
MAX_JSON_BYTES = 16 * 1024 * 1024  # config.json, hmm_live.json, weights_manifest.json [~40 KB]
MAX_WEIGHT_BYTES = 2 * 1024**3  # all variables of a checkpoint [cat-mel_2bar_big: ~0.6 GB]
MAX_VARIABLES = 4096  # manifest entries [~60]
MAX_SHARDS = 4096  # shard files [~150 of 4 MiB], and files in a checkpoint .tar
MAX_TAR_BYTES = 3 * MAX_WEIGHT_BYTES  # unpacked to disk: TF checkpoints keep Adam's two slots per weight
MAX_RANK = 4  # dimensions of one variable [2]
MAX_DIM = 65536  # length of one dimension [4 * 2048 = 8192]

# MIDI files.
MAX_MIDI_BYTES = 1024 * 1024  # a folk tune is ~2 KB, a Groove MIDI take ~20 KB
MAX_MIDI_TRACKS = 256
MAX_MIDI_EVENTS = 200_000  # messages of all tracks
MAX_MIDI_NOTES = 100_000  # note-ons
MAX_MIDI_CHANGES = 1000  # tempo, time and key signature events
MAX_MIDI_TICKS = 2**24  # pretty_midi allocates 8 bytes per tick of the longest track
MAX_MIDI_BEATS = 65536  # quarter notes: 16384 bars, the number of slices a file gives
MAX_MIDI_SECONDS = 3600.0  # an hour at the file's own tempo


def real(v: object) -> TypeGuard[float]:
    """A finite real number (numpy's too), not a bool: what a JSON or user number must be.

    Typed as a float check: a numpy number passes too, and compares and converts as a float does.
    """
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def whole(v: object) -> TypeGuard[int]:
    """An integer (numpy's too), not a bool; typed as an int check, as `real` is a float check."""
    return isinstance(v, Integral) and not isinstance(v, bool)


def int_field(value: object, field: str, lo: int, hi: int, error: type[HmmLiveError] = ConfigError) -> int:
    """An integer lo..hi: bools, strings, fractions, NaN and huge numbers are refused."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, Integral) or not lo <= int(value) <= hi:
        raise error(f"{field} must be an integer {lo}..{hi}, got {value!r:.60}")
    return int(value)


def int_list(
    value: object, field: str, lo: int, hi: int, max_len: int, min_len: int = 1, error: type[HmmLiveError] = ConfigError
) -> tuple[int, ...]:
    """A list of min_len..max_len integers lo..hi."""
    if not isinstance(value, (list, tuple)) or not min_len <= len(value) <= max_len:
        raise error(f"{field} must be a list of {min_len}..{max_len} integers, got {value!r:.60}")
    return tuple(int_field(v, f"{field}[{i}]", lo, hi, error) for i, v in enumerate(value))


def finite_number(value: object, field: str, error: type[HmmLiveError] = CheckpointError) -> float:
    """A finite real number (not a bool, string, NaN or infinity)."""
    if not real(value):
        raise error(f"{field} must be a finite number, got {value!r:.60}")
    return float(value)


T = TypeVar("T")


@overload
def of_type(value: object, kind: type[T], field: str, error: type[HmmLiveError] = ...) -> T: ...
@overload
def of_type(value: object, kind: tuple[type, ...], field: str, error: type[HmmLiveError] = ...) -> Any: ...
def of_type(
    value: object, kind: type | tuple[type, ...], field: str, error: type[HmmLiveError] = ConfigError
) -> object:
    """value itself, if it is a `kind` (a JSON object, list or string where one is expected)."""
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise error(f"{field} must be a {names}, got {type(value).__name__} {value!r:.60}")
    return value


@contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Prefix the file to HmmLiveErrors raised inside, so each message names its file."""
    try:
        yield
    except HmmLiveError as e:
        if str(path) in str(e):
            raise
        raise type(e)(f"{path}: {e}") from None


def inside(folder: Path, name: object, field: str, error: type[HmmLiveError] = CheckpointError) -> Path:
    """folder/name, refused unless it resolves (symlinks included) to a path within folder."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise error(f"{field} must be a file name, got {name!r:.60}")
    root = folder.resolve()
    path = (root / name).resolve()
    if path == root or not path.is_relative_to(root):
        raise error(f"{field} must be a path inside the folder {folder}, got {name!r:.200}")
    return path


def file_size(path: Path, what: str, error: type[HmmLiveError] = CheckpointError) -> int:
    """The size of a regular file; FIFOs, devices, folders and missing files are refused."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise error(f"{what} {path} cannot be read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {path} is not a regular file")
    return st.st_size


def read_file(path: Path, max_bytes: int, what: str, error: type[HmmLiveError] = CheckpointError) -> bytes:
    """A regular file's bytes, refused before reading if it holds more than max_bytes.

    The file is opened non-blocking and checked on its descriptor, so a FIFO
    swapped in after a stat neither blocks nor feeds endless bytes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise error(f"{what} {path} cannot be read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {path} is not a regular file")
        if st.st_size > max_bytes:
            raise error(f"{what} {path} is {st.st_size} bytes, over the limit of {max_bytes}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)  # read(n) allocates n bytes: the size, not the limit
    except OSError as e:
        raise error(f"{what} {path} cannot be read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) != st.st_size:
        raise error(f"{what} {path} changed size while it was read")
    return data
