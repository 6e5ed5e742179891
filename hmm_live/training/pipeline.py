"""tf.data pipelines: label windows -> batches of {labels, eps, noise}, and
{controls} for a chord-conditioned model.

The training stream is a pure function of (seed, example number): example
number i is row index_shuffle(i mod n) of pass i // n, with its own epsilon,
sampling noise and transposition. So training resumes at any step without
replaying data, and any split of a batch across devices sees the same draws.

Chords travel as indices into a table of their control vectors under each of
the 12 transpositions ([12, symbols, depth]), so a transposed melody gets its
chords transposed with it, as Magenta's augmenter transposes chord symbols.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from note_seq import chord_symbols_lib

from hmm_live.music.chords import NO_CHORD, ChordEncoder
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
    chords: Chords | None = None,
) -> tf.data.Dataset:
    """Endless shuffled batches, starting at batch `start_step`."""
    n, steps = labels.shape[:2]
    table = tf.constant(labels, tf.float32 if converter.continuous else tf.int32)
    melody = converter.js_type == "MelodyConverter"

    def example(i):
        row = tf.random.experimental.index_shuffle(
            i % n, tf.stack([tf.constant(seed, tf.int64), i // n]), tf.constant(n - 1, tf.int64)
        )
        x = tf.gather(table, row)
        key = tf.stack([tf.constant(seed, tf.int64), i])
        eps = tf.random.stateless_normal([z_size], seed=key)
        noise = tf.random.stateless_uniform([steps, 2], seed=key + [0, 2**40])
        shift = tf.constant(0)
        if melody and transpose != (0, 0):
            x, shift = _transpose(x, converter, transpose, tf.random.stateless_uniform([], seed=key + [0, 2**41]))
        out = {"labels": x, "eps": eps, "noise": noise}
        if chords is not None:
            out["controls"] = chords.controls(row, shift)
        return out

    ds = tf.data.Dataset.range(start_step * batch_size, 2**62)
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(ds.batch(batch_size, drop_remainder=True))


def eval_dataset(
    labels: np.ndarray, z_size: int, batch_size: int, controls: np.ndarray | None = None
) -> tf.data.Dataset:
    """Every example once, in order, with z = mu (eps 0) and no sampling;
    `controls` [n, steps, depth] are the examples' chords, if the model has them.
    Float labels (a GrooVAE's grooves [n, steps, depth]) stay floats."""
    n, steps = labels.shape[:2]
    examples = {
        "labels": labels.astype(np.float32 if labels.dtype.kind == "f" else np.int32),
        "eps": np.zeros((n, z_size), np.float32),
        "noise": np.ones((n, steps, 2), np.float32),
    }
    if controls is not None:
        examples["controls"] = controls.astype(np.float32)
    return _finish(tf.data.Dataset.from_tensor_slices(examples).batch(batch_size))


class Chords:
    """The chords of a split's windows as control vectors, under any transposition."""

    def __init__(self, indices: np.ndarray, symbols: np.ndarray, encoder: ChordEncoder):
        self.indices = tf.constant(indices, tf.int32)  # [n, steps] into symbols
        self.table = tf.constant(
            np.array([[encoder.encode(_transposed(str(c), shift)) for c in symbols] for shift in range(12)]).reshape(
                12, len(symbols), encoder.depth
            ),
            tf.float32,
        )

    def controls(self, row, shift):
        """Controls [steps, depth] of window `row`, its chords moved by `shift` semitones."""
        return tf.gather(self.table[tf.math.floormod(shift, 12)], tf.gather(self.indices, row))

    def vectors(self) -> np.ndarray:
        """Every window's controls [n, steps, depth], untransposed."""
        return tf.gather(self.table[0], self.indices).numpy()


def _transposed(chord: str, shift: int) -> str:
    return chord if chord == NO_CHORD or not shift else chord_symbols_lib.transpose_chord_symbol(chord, shift)


def _transpose(x, converter: DataConverter, span: tuple[int, int], u):
    """Shift the pitches by a uniform draw from span, narrowed to keep them in range;
    returns the shifted labels and the shift."""
    is_pitch = x >= FIRST_PITCH
    top = converter.output_depth - 1
    lo = tf.maximum(span[0], FIRST_PITCH - tf.reduce_min(tf.where(is_pitch, x, top)))
    hi = tf.minimum(span[1], top - tf.reduce_max(tf.where(is_pitch, x, FIRST_PITCH)))
    shift = tf.minimum(lo + tf.cast(tf.floor(u * tf.cast(hi - lo + 1, tf.float32)), tf.int32), hi)
    return tf.where(is_pitch, x + shift, x), shift


def _finish(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
