"""What every benchmark shares: options, progress logging, timing statistics, target rows, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hmm_live.files import atomic_write


def arguments(doc: str, quick: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: --quick (what it does in `quick`) and --out."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--out", help="also write the JSON here (atomically)")
    return parser


def rounded(obj: Any) -> Any:
    """Floats (numpy's too) rounded to 4 decimals, for a readable report."""
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v) for v in obj]
    return round(float(obj), 4) if isinstance(obj, (float, np.floating)) else obj


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def stats_ms(seconds: list[float]) -> dict[str, float | None]:
    """p50, p99 and mean in ms; None for each where nothing was measured (a target then fails, the report stays)."""
    ms = np.asarray(seconds) * 1e3
    if ms.size == 0:
        return {"p50_ms": None, "p99_ms": None, "mean_ms": None, "n": 0}
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "n": len(ms),
    }


def target(name: str, value: float | None, op: str, limit: float) -> dict[str, Any]:
    """A target (a measure, `op` and its limit) with its measured value and whether it is met."""
    ok = value is not None and bool(value <= limit if op == "<=" else value >= limit)
    return {"name": name, "value": value, "op": op, "limit": limit, "meets_target": ok}


def emit(report: dict[str, Any], out: str | os.PathLike | None) -> None:
    """Print the report as JSON (and write it atomically to `out`), with the load at the end."""
    rows = report.get("targets", [])
    report = {
        **report,
        "all_targets_met": all(r["meets_target"] for r in rows),
        "cpu_count": os.cpu_count(),
        "loadavg_1min_at_end": os.getloadavg()[0],
    }
    text = json.dumps(rounded(report), indent=2)
    if out:
        with atomic_write(Path(out), "w") as f:
            f.write(text + "\n")
    print(text)
