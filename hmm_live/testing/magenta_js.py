"""@magenta/music 1.23.1 in node, as the reference that hmm_live is checked against.

Used by the conformance tests and bench/musicvae.py: installs the npm
package into a cache folder once, serves a checkpoint folder over loopback
HTTP (magenta-js fetches, it cannot read file:// URLs) and runs one job.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hmm_live.files import cache_dir

VERSION = "1.23.1"
SCRIPT = Path(__file__).with_name("magenta_js_oracle.js")
CACHE = cache_dir(f"magenta-js-{VERSION}")


class OracleUnavailable(RuntimeError):
    """node is missing: the reference cannot run here."""


def node() -> str:
    path = shutil.which("node")
    if path is None:
        raise OracleUnavailable("node is not installed (apt-get install nodejs npm)")
    return path


def install() -> Path:
    """Install @magenta/music into the cache folder (once); returns its node_modules."""
    node()
    modules = CACHE / "node_modules"
    if (modules / "@magenta" / "music" / "package.json").exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is missing although node is installed (apt-get install npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "package.json").write_text('{"name": "hmm-live-oracle", "private": true}')
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", f"@magenta/music@{VERSION}"],
        cwd=CACHE,
        check=True,
        timeout=900,
    )
    return modules


@contextlib.contextmanager
def serve(folder: str | Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 for the duration of the block; yields its URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="magenta-js-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(folder: str | Path, timeout: float = 900, **job: Any) -> dict[str, Any]:
    """Load the magenta-js checkpoint in `folder` in node and run `job` (see the .js file)."""
    modules = install()
    with serve(folder) as url, tempfile.TemporaryDirectory() as tmp:
        job_file, out_file = Path(tmp, "job.json"), Path(tmp, "out.json")
        job_file.write_text(json.dumps({"url": url, **job}))
        env = {**os.environ, "NODE_PATH": str(modules)}
        proc = subprocess.run(
            [node(), str(SCRIPT), str(job_file), str(out_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode:
            raise RuntimeError(f"magenta-js failed on {folder}:\n{proc.stderr[-3000:]}")
        return json.loads(out_file.read_text())


class _Server(http.server.ThreadingHTTPServer):
    # magenta-js fetches every weight shard at once (a big model has 100+):
    # the default listen backlog of 5 drops connections and node's fetch fails.
    request_queue_size = 512


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass
