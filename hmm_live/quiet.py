"""TensorFlow's notices off stage, whatever the CPU.

TensorFlow 2.19+ logs through absl while it loads, before TF_CPP_MIN_LOG_LEVEL is
read (tensorflow#100442): on a CPU with oneDNN's optimisations (AVX-512, say) every
process prints "oneDNN custom operations are on" twice, into the terminal of
`hmm-live` and into a notebook cell; TensorFlow Lite prints its own "INFO: ..."
lines. `install()` (hmm_live/__init__.py) makes the process's first `import
tensorflow` run inside `quiet_tensorflow()`, as the drummer's TFLite conversion
does: the C-level stderr is caught, the lines below TF_CPP_MIN_LOG_LEVEL are
dropped, every other line is written back.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

_ABSL_LINE = re.compile(r"^([IWEF])\d{4} ")  # absl's prefix: level letter, then MMDD
_LITE_LINE = re.compile(r"^(INFO|WARNING|ERROR): ")  # TensorFlow Lite's
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def log_level() -> int:
    """TF_CPP_MIN_LOG_LEVEL, as TensorFlow reads it (0 info .. 3 fatal only; 0 if unset or not a number)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _kept(line: str, min_level: int) -> bool:
    """Whether a line TensorFlow wrote still shows at `min_level`."""
    if line.strip() == _ABSL_PREAMBLE:
        return min_level == 0
    if level := _ABSL_LINE.match(line):
        return "IWEF".index(level[1]) >= min_level
    if level := _LITE_LINE.match(line):
        return ("INFO", "WARNING", "ERROR").index(level[1]) >= min_level
    return True


@contextlib.contextmanager
def filtered_stderr(min_level: int) -> Iterator[None]:
    """Catch what is written to file descriptor 2 meanwhile; write back the lines `_kept` keeps."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if _kept(line, min_level))
            if kept:
                os.write(2, kept.encode())


def quiet_tensorflow() -> contextlib.AbstractContextManager[None]:
    """`filtered_stderr` at TF_CPP_MIN_LOG_LEVEL: around a TensorFlow call that prints as it goes."""
    return filtered_stderr(log_level())


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run inside `filtered_stderr`."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        if spec is not None:
            spec.loader = module.__loader__ = self.loader  # the package sees its own loader
        with quiet_tensorflow():
            self.loader.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, as the path finder does, and hands it to `_QuietLoader`."""

    found = False

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow" or self.found:
            return None
        self.found = True
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Quiet the first `import tensorflow` of this process (nothing if it has happened)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
