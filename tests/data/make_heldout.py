"""Writes tests/data/heldout.npz: the test-split windows that `hmm-live eval` measures
the shipped default models on, so tests check the model cards without parsing the
music21 folk corpus (minutes) or needing the Groove MIDI Dataset (../shared).

For each shipped model it stores the label windows [n, num_steps] (int16, exactly
what `extract` gives `evaluate`) under the model's folder name, and `<name>.converter`:
the data converter's spec, which the tests compare with the model's. Run it again
when the sources, the extraction (hmm_live/training/examples.py, sources.py) or a
model's converter changes:

    .venv/bin/python tests/data/make_heldout.py

It reads the training sources each card's command names (the Groove dataset from
../shared/data/groove) and uses extract's cache (~/.cache/hmm_live/examples) when warm.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hmm_live import MusicVAE  # noqa: E402
from hmm_live.files import atomic_write, cache_dir  # noqa: E402
from hmm_live.training import extract  # noqa: E402
from tests.models.test_default_models import MODELS  # noqa: E402
from tests.support import HELDOUT  # noqa: E402


def main() -> None:
    arrays = {}
    for name, (sources, _) in MODELS.items():
        converter = MusicVAE.load(REPO / "checkpoints" / name).data_converter
        paths = [str((REPO / s).resolve()) if s.startswith("..") else s for s in sources]  # as the tests had them
        splits, report = extract(paths, converter, cache_dir("examples"))
        print(f"{name}: {report.summary()}")
        arrays[name] = splits["test"]
        arrays[f"{name}.converter"] = np.array(json.dumps(converter.spec(), sort_keys=True))
    with atomic_write(HELDOUT) as f:
        np.savez_compressed(f, **arrays)
    print(f"wrote {HELDOUT} ({HELDOUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
