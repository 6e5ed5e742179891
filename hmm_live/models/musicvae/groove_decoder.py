"""GrooVAE's decoder: the LSTM decoder with continuous outputs instead of classes.

    each step: LSTM stack on [previous output, z] -> output projection [3 * drums]
               -> hits:       sigmoid(logits) > 0.5, or at a temperature
                              sigmoid(logits / T) > a uniform draw (a Bernoulli sample)
                  velocities: sigmoid
                  offsets:    tanh
               the step's [hits, velocities, offsets] is the next step's input.

Its weights are the categorical decoder's, under the same Magenta names; only
what a step writes differs (magenta-js's GrooveDecoder, Python Magenta's
GrooveLstmDecoder). Training feeds each step the previous target (teacher
forcing, as Magenta's GrooVAE configs train: no scheduled sampling).
"""

from __future__ import annotations

import tensorflow as tf

from hmm_live.errors import UnsupportedModelError
from hmm_live.models.musicvae.network import Decoder, initial_states, step_stack


class GrooveDecoder(Decoder):
    """z -> [steps, hits | velocities | offsets] of every drum class."""

    def start(self, batch):
        """The input of the first step: zeros."""
        return tf.zeros([batch, self.output_depth])

    def sample(self, z, controls, steps, start, temperature, seed):
        """Decode `steps` steps: [B, steps, 3 * drums] float32. start [B, 3 * drums]: the
        previous output (zeros for none); temperature None thresholds hits at 0.5."""
        drums = self.output_depth // 3
        static = self.z_term(z)
        previous_rows = self.cells[0].kernel[: self.output_depth]
        if controls is not None:
            per_step = self.control_term(controls, z)
        if temperature is not None:  # every draw up front, as the categorical decoder does
            uniform = tf.random.stateless_uniform([steps, tf.shape(z)[0], drums], seed)

        def step(carry, t):
            previous, states = carry
            x_part = static + tf.matmul(previous, previous_rows)
            if controls is not None:
                x_part += per_step[t]
            h, states = step_stack(self.cells, x_part, states)
            hits, velocities, offsets = tf.split(self.projection(h), 3, axis=-1)
            if temperature is None:
                hits = tf.sigmoid(hits) > 0.5
            else:
                hits = tf.sigmoid(hits / temperature) > uniform[t]
            output = tf.concat([tf.cast(hits, tf.float32), tf.sigmoid(velocities), tf.tanh(offsets)], axis=-1)
            return output, states

        states = initial_states(self.z_to_state, self.cells, z)
        outputs, _ = tf.scan(step, tf.range(steps), initializer=(start, states))
        return tf.transpose(outputs, [1, 0, 2])

    def teacher_forced(self, z, targets, sampling_probability, noise, controls=None, start=None):
        """Training: raw outputs [B, T, 3 * drums] (hit logits, velocity and offset pre-activations)
        for targets [B, T, 3 * drums], each step fed the previous target (zeros before the first).
        Scheduled sampling is refused by `train_musicvae`; `noise` is unused."""
        if controls is not None or start is not None:
            raise UnsupportedModelError("a GrooVAE decoder takes no controls and no start step")
        previous = tf.pad(targets[:, :-1], [[0, 0], [1, 0], [0, 0]])
        x_parts = self.z_term(z)[:, None] + tf.matmul(previous, self.cells[0].kernel[: self.output_depth])

        def step(carry, x_part):
            _, states = carry
            return step_stack(self.cells, x_part, states)

        states = initial_states(self.z_to_state, self.cells, z)
        empty = tf.zeros([tf.shape(z)[0], self.cells[-1].units])
        h, _ = tf.scan(step, tf.transpose(x_parts, [1, 0, 2]), initializer=(empty, states))
        return self.projection(tf.transpose(h, [1, 0, 2]))
