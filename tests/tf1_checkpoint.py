"""Write Magenta-style TF1 checkpoints with TensorFlow's own checkpoint writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf


def write_tf1_checkpoint(prefix: Path, weights: dict[str, np.ndarray]) -> Path:
    """A V2 checkpoint bundle (prefix.index + prefix.data-00000-of-00001) holding
    `weights` under their Magenta names, plus the training leftovers Magenta
    checkpoints carry (global_step, Adam slots) that a loader must skip."""
    tensors = dict(weights)
    tensors["global_step"] = np.array(12345, np.int64)
    for name, value in list(weights.items())[:3]:
        tensors[f"{name}/Adam"] = np.zeros_like(value)
        tensors[f"{name}/Adam_1"] = np.zeros_like(value)
    tensors["beta1_power"] = np.array(0.9, np.float32)
    names = sorted(tensors)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    return prefix
