"""Magenta's MusicVAE training objective as a Keras model for `fit`.

    loss = mean(r_loss) + beta * mean(max(KL - free_bits * ln 2, 0))
    r_loss = cross-entropy summed over steps; beta = max_beta * (1 - beta_rate ** step)
    GrooVAE's r_loss (Magenta's GrooveLstmDecoder): per step and drum class, the hit's
    sigmoid cross-entropy + the squared error of sigmoid(velocity) and of tanh(offset),
    summed over classes and steps; unmasked, so where no hit is the targets are 0
    scheduled sampling: the decoder is fed its own sample with probability
    1 - rate / (rate + exp(step / rate)) (inverse sigmoid), else the target.

Every random draw (z's epsilon, the sampling coins) arrives with its example
from the data pipeline, so one device and several give the same result.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from hmm_live.models.musicvae.configs import HParams
from hmm_live.models.musicvae.network import MusicVAENetwork
from hmm_live.music.converters import DataConverter
from hmm_live.music.groove import TAP_CLASS, GrooveConverter

LN2 = 0.6931471805599453
SKIP_GRADIENT_NORM = 10000.0  # Magenta's grad_norm_clip_to_zero: a step this wild is skipped


def encoder_inputs(converter: DataConverter, labels):
    """Labels [B, T] -> encoder inputs [B, T, input_depth], as the converter's to_inputs."""
    if isinstance(converter, GrooveConverter):
        return groove_inputs(converter, labels)
    if converter.input_depth == converter.output_depth:  # one-hot melody / drums
        return tf.one_hot(labels, converter.output_depth)
    hits = tf.cast(
        tf.bitwise.bitwise_and(labels[..., None], 2 ** tf.range(converter.input_depth - 1)) > 0, tf.float32
    )  # drum roll: one column per class, then "no hit"
    return tf.concat([hits, tf.cast(labels == 0, tf.float32)[..., None]], axis=-1)


def groove_inputs(converter: GrooveConverter, grooves):
    """Grooves [B, T, 3 * drums] -> what the encoder hears: a humanize model hits only; a tap2drum
    model one tap per step on the tap class, with the hit and offset of the step's loudest drum
    and no velocity (Magenta's tapify with fixed velocities); else the groove itself."""
    if not (converter.humanize or converter.tapify):
        return grooves
    hits, velocities, offsets = tf.split(grooves, 3, axis=-1)
    if converter.tapify:
        loudest = tf.one_hot(tf.argmax(velocities, axis=-1), converter.num_drums)
        tap = tf.one_hot(TAP_CLASS, converter.num_drums)
        hits = tf.reduce_sum(hits * loudest, -1, keepdims=True) * tap
        offsets = tf.reduce_sum(offsets * loudest, -1, keepdims=True) * tap
    if converter.humanize:
        offsets = tf.zeros_like(offsets)
    return tf.concat([hits, tf.zeros_like(velocities), offsets], axis=-1)


def groove_loss(outputs, grooves):
    """Per example: summed hit cross-entropy and velocity and offset squared errors (module docstring),
    and per step the fraction of drum classes whose hit (sigmoid > 0.5) is right."""
    hit_logits, velocity, offset = tf.split(outputs, 3, axis=-1)
    hits, target_velocity, target_offset = tf.split(grooves, 3, axis=-1)
    per_step = (
        tf.nn.sigmoid_cross_entropy_with_logits(hits, hit_logits)
        + tf.square(tf.sigmoid(velocity) - target_velocity)
        + tf.square(tf.tanh(offset) - target_offset)
    )
    correct = tf.reduce_mean(tf.cast(tf.equal(tf.cast(hit_logits > 0, tf.float32), hits), tf.float32), -1)
    return tf.reduce_sum(per_step, [1, 2]), correct


def kl_divergence(mu, sigma):
    """KL(N(mu, sigma) || N(0, I)) per example, in nats."""
    return 0.5 * tf.reduce_sum(tf.square(mu) + tf.square(sigma) - 1.0 - 2.0 * tf.math.log(sigma), -1)


class MagentaSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """(lr - min_lr) * decay_rate ** step + min_lr, per step."""

    def __init__(self, hparams: HParams):
        self.hp = hparams

    def __call__(self, step):
        hp = self.hp
        return (hp.learning_rate - hp.min_learning_rate) * tf.pow(
            hp.decay_rate, tf.cast(step, tf.float32)
        ) + hp.min_learning_rate


class Objective(keras.Model):
    """Wraps a MusicVAENetwork with Magenta's losses; batches are dicts of
    labels [B, T], eps [B, Z], noise [B, T, 2] and, for chord-conditioned
    models, controls [B, T, C] (see pipeline.py). A hierarchical decoder's loss
    is summed over all its bars, as Magenta sums its per-bar losses."""

    METRICS = ("loss", "r_loss", "kl_bits", "accuracy", "beta", "sampling_probability")

    def __init__(self, network: MusicVAENetwork, converter: DataConverter, hparams: HParams, **kwargs):
        super().__init__(**kwargs)
        self.network, self.converter, self.hp = network, converter, hparams
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.METRICS}
        self.built = True  # the network's layers are built on creation

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skipped: everything is built on creation, and Keras 3.15's symbolic build
        fails on dict batches under MultiWorkerMirroredStrategy (it reduces the batch)."""

    def schedules(self):
        step = tf.cast(self.optimizer.iterations, tf.float32)
        beta = self.hp.max_beta * (1.0 - tf.pow(self.hp.beta_rate, step))
        rate = self.hp.sampling_rate
        sampling = 1.0 - rate / (rate + tf.exp(tf.minimum(step / rate, 80.0))) if rate else tf.constant(0.0)
        return beta, sampling

    def forward(self, batch, beta, sampling_probability):
        """Per-example losses, per-step correctness and mu."""
        continuous = self.converter.continuous
        labels = tf.cast(batch["labels"], tf.float32 if continuous else tf.int32)
        controls = batch.get("controls")  # chords [B, T, C], read by the encoder and the decoder
        inputs = encoder_inputs(self.converter, labels)
        mu, sigma = self.network.encoder(inputs if controls is None else tf.concat([inputs, controls], -1))
        z = mu + sigma * batch["eps"]
        logits = self.network.teacher_forced(z, labels, sampling_probability, batch["noise"], controls)
        if continuous:
            r_loss, correct = groove_loss(logits, labels)
        else:
            r_loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits), -1)
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        kl = kl_divergence(mu, sigma)
        kl_cost = tf.maximum(kl - self.hp.free_bits * LN2, 0.0)
        return r_loss + beta * kl_cost, r_loss, kl, correct, mu

    def _track(self, loss, r_loss, kl, correct, beta, sampling):
        n = tf.cast(tf.shape(r_loss)[0], tf.float32)
        for name, value in (
            ("loss", loss),
            ("r_loss", r_loss),
            ("kl_bits", kl / LN2),
            ("accuracy", tf.reduce_mean(correct, -1)),
        ):
            self.trackers[name].update_state(value, sample_weight=tf.ones_like(value))
        self.trackers["beta"].update_state(beta, sample_weight=n)
        self.trackers["sampling_probability"].update_state(sampling, sample_weight=n)
        results = {name: t.result() for name, t in self.trackers.items()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.15 averages step outputs across workers along axis 0: give them one.
            results = {name: value[None] for name, value in results.items()}
        return results

    def train_step(self, batch):
        beta, sampling = self.schedules()
        with tf.GradientTape() as tape:
            loss, r_loss, kl, correct, _ = self.forward(batch, beta, sampling)
            # Sum over this replica's share of the global batch: gradients are summed
            # across replicas, so any split gives the one-device mean.
            total = tf.reduce_sum(loss) / self.hp.batch_size
        variables = self.network.trainable_variables
        grads = tape.gradient(total, variables)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:  # clip the global gradient, not each replica's (Keras clips per replica)
            grads = tf.distribute.get_replica_context().all_reduce("SUM", grads)
        grads, norm = tf.clip_by_global_norm(grads, self.hp.grad_clip)
        keep = tf.cast(norm < SKIP_GRADIENT_NORM, tf.float32)
        # Keras's optimizer sums gradients over replicas once more: give it each one's share.
        self.optimizer.apply([g * keep / replicas for g in grads], variables)
        return self._track(loss, r_loss, kl, correct, beta, sampling)

    def test_step(self, batch):
        beta, _ = self.schedules()
        loss, r_loss, kl, correct, _ = self.forward(batch, beta, 0.0)
        return self._track(loss, r_loss, kl, correct, beta, tf.constant(0.0))
