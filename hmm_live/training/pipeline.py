"""tf.data pipelines: label windows -> batches of {labels, eps, noise}.

The training stream is a pure function of (seed, example number): example
number i is row index_shuffle(i mod n) of pass i // n, with its own epsilon,
sampling noise and transposition. So training resumes at any step without
replaying data, and any split of a batch across devices sees the same draws.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from hmm_live.music.converters import DataConverter
from hmm_live.music.melody import FIRST_PITCH


def training_dataset(
    labels: np.ndarray,
    converter: DataConverter,
    z_size: int,
    batch_size: int,
    seed: int,
    start_step: int = 0,
    transpose: tuple[int, int] = (0, 0),
) -> tf.data.Dataset:
    """Endless shuffled batches, starting at batch `start_step`."""
    n, steps = labels.shape
    table = tf.constant(labels, tf.int32)
    melody = converter.js_type == "MelodyConverter"

    def example(i):
        row = tf.random.experimental.index_shuffle(
            i % n, tf.stack([tf.constant(seed, tf.int64), i // n]), tf.constant(n - 1, tf.int64)
        )
        x = tf.gather(table, row)
        key = tf.stack([tf.constant(seed, tf.int64), i])
        eps = tf.random.stateless_normal([z_size], seed=key)
        noise = tf.random.stateless_uniform([steps, 2], seed=key + [0, 2**40])
        if melody and transpose != (0, 0):
            x = _transpose(x, converter, transpose, tf.random.stateless_uniform([], seed=key + [0, 2**41]))
        return {"labels": x, "eps": eps, "noise": noise}

    ds = tf.data.Dataset.range(start_step * batch_size, 2**62)
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(ds.batch(batch_size, drop_remainder=True))


def eval_dataset(labels: np.ndarray, z_size: int, batch_size: int) -> tf.data.Dataset:
    """Every example once, in order, with z = mu (eps 0) and no sampling."""
    n, steps = labels.shape
    ds = tf.data.Dataset.from_tensor_slices(
        {
            "labels": labels.astype(np.int32),
            "eps": np.zeros((n, z_size), np.float32),
            "noise": np.ones((n, steps, 2), np.float32),
        }
    )
    return _finish(ds.batch(batch_size))


def _transpose(x, converter: DataConverter, span: tuple[int, int], u):
    """Shift the pitches by a uniform draw from span, narrowed to keep them in range."""
    is_pitch = x >= FIRST_PITCH
    top = converter.output_depth - 1
    lo = tf.maximum(span[0], FIRST_PITCH - tf.reduce_min(tf.where(is_pitch, x, top)))
    hi = tf.minimum(span[1], top - tf.reduce_max(tf.where(is_pitch, x, FIRST_PITCH)))
    shift = lo + tf.cast(tf.floor(u * tf.cast(hi - lo + 1, tf.float32)), tf.int32)
    return tf.where(is_pitch, x + tf.minimum(shift, hi), x)


def _finish(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
