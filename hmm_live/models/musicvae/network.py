"""The MusicVAE network in Keras 3, with Magenta's exact arithmetic.

    encoder:   bidirectional LSTM stack (or a 2-level hierarchy of them)
               -> mu, sigma = softplus(...)
    decoder:   z -> tanh dense -> initial LSTM states
               each step: LSTM stack on [previous output, z, controls]
               -> output projection -> argmax or a sample at a temperature
    hierarchical decoder: a conductor LSTM turns z into one embedding per bar,
               and each embedding drives the decoder above for one bar.
    split decoder (trio): one such decoder per instrument, each fed the same
               z (or bar embedding) and its own previous output.
    NADE output (multi-label drums): the projection gives a NADE's biases,
               and the NADE picks each drum class in turn, given those before.
    boolean output (melody rhythm): each class on where its logit >= 0.

LSTM cells are TF1's LSTMBlockCell: kernel [input + H, 4H], gates i, j, f, o,
forget bias 1.0 added at run time. Every weight carries its Magenta variable
name (`magenta_weights`), so checkpoints map one to one.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

import keras
import tensorflow as tf

from hmm_live import limits
from hmm_live.errors import ConfigError, UnsupportedModelError
from hmm_live.limits import int_field, int_list, of_type


@dataclass(frozen=True)
class NetworkSpec:
    """Sizes of one MusicVAE network, as read off a checkpoint's variable shapes."""

    input_depth: int  # encoder input per step, controls excluded
    output_depth: int  # decoder classes
    z_size: int
    encoder_sizes: tuple[int, ...]  # units per direction, one per stacked layer
    decoder_sizes: tuple[int, ...]
    num_steps: int
    control_depth: int = 0  # chord vector width, 0 without conditioning
    num_segments: int = 0  # bars of a hierarchical model, 0 for flat ones
    hierarchical_encoder: bool = False  # encoder_sizes then holds one size per level
    conductor_sizes: tuple[int, ...] = ()
    split_depths: tuple[int, ...] = ()  # classes of each instrument's decoder (trio); () for one decoder
    nade_hidden: int = 0  # hidden units of a NADE output (output_depth then counts labels); 0: categorical
    boolean_output: bool = False  # one Bernoulli label per output class (config.json's useBooleanDecoder)

    def __post_init__(self) -> None:
        """Refuse sizes past hmm_live.limits before any layer allocates them."""
        for name, lo, hi in (
            ("input_depth", 1, limits.MAX_DEPTH),
            ("output_depth", 1, limits.MAX_DEPTH),
            ("z_size", 1, limits.MAX_Z),
            ("num_steps", 1, limits.MAX_STEPS),
            ("control_depth", 0, limits.MAX_DEPTH),
            ("num_segments", 0, limits.MAX_SEGMENTS),
            ("nade_hidden", 0, limits.MAX_LAYER_SIZE),
        ):
            int_field(getattr(self, name), f"network field {name!r}", lo, hi)
        for name, min_len in (("encoder_sizes", 1), ("decoder_sizes", 1), ("conductor_sizes", 0)):
            int_list(
                getattr(self, name), f"network field {name!r}", 1, limits.MAX_LAYER_SIZE, limits.MAX_LAYERS, min_len
            )
        int_list(self.split_depths, "network field 'split_depths'", 1, limits.MAX_DEPTH, limits.MAX_LAYERS, 0)
        if self.split_depths and sum(self.split_depths) != self.output_depth:
            raise ConfigError(
                f"network field 'split_depths' {list(self.split_depths)} does not add up to "
                f"output_depth {self.output_depth}"
            )
        if self.nade_hidden and self.output_depth > limits.MAX_DRUM_CLASSES:
            raise ConfigError(
                f"network field 'output_depth' {self.output_depth}: a NADE output holds at most "
                f"{limits.MAX_DRUM_CLASSES} labels"
            )
        of_type(self.hierarchical_encoder, bool, "network field 'hierarchical_encoder'")
        of_type(self.boolean_output, bool, "network field 'boolean_output'")
        if self.boolean_output and (self.nade_hidden or self.split_depths):
            raise ConfigError("network field 'boolean_output': a boolean output has no NADE and one decoder")
        if self.num_segments and self.num_steps % self.num_segments:
            raise ConfigError(
                f"network field 'num_segments' {self.num_segments} does not divide num_steps {self.num_steps}"
            )

    @property
    def segment_length(self) -> int:
        return self.num_steps // self.num_segments if self.num_segments else self.num_steps

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> NetworkSpec:
        """A spec from hmm_live.json's "network" object; unknown and missing fields are refused."""
        data = of_type(data, dict, "network")
        known = {f.name for f in fields(cls)}
        missing = sorted({f.name for f in fields(cls) if f.default is MISSING} - set(data))
        if missing:
            raise ConfigError(f"network lacks the fields {', '.join(missing)}")
        if set(data) - known:
            raise ConfigError(f"network has unknown fields {', '.join(sorted(map(str, set(data) - known)))}")
        tuples = ("encoder_sizes", "decoder_sizes", "conductor_sizes", "split_depths")
        values: dict[str, Any] = {k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


class LSTMCell(keras.layers.Layer):
    """TF1 LSTMBlockCell arithmetic with its [input + H, 4H] kernel layout."""

    def __init__(self, units: int, input_dim: int, path: str, **kwargs):
        super().__init__(**kwargs)
        self.units, self.magenta_name = units, path
        self.kernel = self.add_weight(shape=(input_dim + units, 4 * units), name="kernel")
        self.bias = self.add_weight(shape=(4 * units,), initializer="zeros", name="bias")
        self.built = True

    def input_part(self, x):
        """x @ kernel[:input] + bias: precomputable for whole sequences."""
        return tf.matmul(x, self.kernel[: -self.units]) + self.bias

    def step(self, x_part, state):
        c, h = state
        gates = x_part + tf.matmul(h, self.kernel[-self.units :])
        i, j, f, o = tf.split(gates, 4, axis=-1)
        c = tf.sigmoid(i) * tf.tanh(j) + c * tf.sigmoid(f + 1.0)
        h = tf.tanh(c) * tf.sigmoid(o)
        return h, (c, h)


def run_lstm(cell: LSTMCell, x, reverse: bool = False):
    """Run one cell over x [B, T, D] from a zero state; returns outputs [B, T, H]."""
    x_part = tf.transpose(cell.input_part(x), [1, 0, 2])  # [T, B, 4H]
    zeros = tf.zeros([tf.shape(x)[0], cell.units])
    _, outputs = tf.scan(lambda state, xp: cell.step(xp, state)[1], x_part, initializer=(zeros, zeros), reverse=reverse)
    return tf.transpose(outputs, [1, 0, 2])


def initial_states(z_to_state: keras.layers.Dense, cells, z):
    """tanh(dense(z)) split into (c, h) per layer, in the order c0, h0, c1, h1, ..."""
    init = tf.split(tf.tanh(z_to_state(z)), [2 * c.units for c in cells], axis=-1)
    return tuple(tuple(tf.split(s, 2, axis=-1)) for s in init)


def step_stack(cells, x_part, states):
    """One step of stacked cells; x_part is layer 0's input term. Returns (top h, states)."""
    h, state = cells[0].step(x_part, states[0])
    new_states = [state]
    for cell, previous in zip(cells[1:], states[1:]):
        h, state = cell.step(cell.input_part(h), previous)
        new_states.append(state)
    return h, tuple(new_states)


class BidirectionalStack(keras.layers.Layer):
    """Stacked bidirectional LSTMs; layer l+1 reads layer l's [fw, bw] outputs."""

    def __init__(self, sizes, input_dim: int, path: str, **kwargs):
        super().__init__(**kwargs)
        self.forward, self.backward = [], []
        for i, units in enumerate(sizes):
            cell = f"{path}cell_{i}/bidirectional_rnn/%s/multi_rnn_cell/cell_0/lstm_cell"
            self.forward.append(LSTMCell(units, input_dim, cell % "fw"))
            self.backward.append(LSTMCell(units, input_dim, cell % "bw"))
            input_dim = 2 * units
        self.output_dim = input_dim
        self.built = True

    def call(self, x, lengths=None):
        """x [B, T, D] -> concat(last forward h, first backward h) of the top layer. With
        `lengths` [B], each sequence ends there: its backward LSTM starts at its last step."""
        for fw, bw in zip(self.forward, self.backward):
            out_fw = run_lstm(fw, x)
            if lengths is None:
                out_bw = run_lstm(bw, x, reverse=True)
            else:  # reversing each sequence's own steps, the backward pass runs forward
                out_bw = tf.reverse_sequence(run_lstm(bw, tf.reverse_sequence(x, lengths, 1, 0)), lengths, 1, 0)
            x = tf.concat([out_fw, out_bw], axis=-1)
        last_fw = out_fw[:, -1] if lengths is None else tf.gather(out_fw, lengths - 1, batch_dims=1)
        return tf.concat([last_fw, out_bw[:, 0]], axis=-1)


class Encoder(keras.layers.Layer):
    """Sequence (+ controls) -> (mu, sigma)."""

    def __init__(self, spec: NetworkSpec, **kwargs):
        super().__init__(**kwargs)
        input_dim = spec.input_depth + spec.control_depth
        self.segments = spec.num_segments if spec.hierarchical_encoder else 0
        if self.segments:
            self.levels = []
            for level, units in enumerate(spec.encoder_sizes):
                self.levels.append(BidirectionalStack([units], input_dim, f"encoder/hierarchical_level_{level}/"))
                input_dim = 2 * units
        else:
            self.levels = [BidirectionalStack(spec.encoder_sizes, input_dim, "encoder/")]
            input_dim = self.levels[0].output_dim
        self.mu = dense(spec.z_size, input_dim, "encoder/mu")
        self.sigma = dense(spec.z_size, input_dim, "encoder/sigma")
        self.built = True

    def call(self, x, lengths=None):
        """x [B, T, D]; `lengths` [B * segments]: where each segment ends (multitrack's tracks)."""
        if self.segments:  # level 0 encodes each bar, level 1 the bar embeddings
            batch, depth = tf.shape(x)[0], x.shape[-1]
            bars = tf.reshape(x, [batch * self.segments, -1, depth])
            x = tf.reshape(self.levels[0](bars, lengths), [batch, self.segments, -1])
        final = self.levels[-1](x)
        return self.mu(final), tf.math.softplus(self.sigma(final))


class Decoder(keras.layers.Layer):
    """Categorical LSTM decoder: an embedding (z) -> one class per step."""

    def __init__(
        self, sizes, output_depth: int, z_dim: int, control_depth: int, prefix: str, projection_depth: int = 0
    ):
        super().__init__()
        self.output_depth = output_depth
        self.no_output = output_depth  # the label fed before the first step: a row of zeros
        self.z_to_state = dense(2 * sum(sizes), z_dim, f"{prefix}z_to_initial_state")
        self.cells, input_dim = [], output_depth + z_dim + control_depth
        for i, units in enumerate(sizes):
            self.cells.append(LSTMCell(units, input_dim, f"{prefix}multi_rnn_cell/cell_{i}/lstm_cell"))
            input_dim = units
        self.projection = dense(projection_depth or output_depth, input_dim, f"{prefix}output_projection")
        self.built = True

    def previous_term(self):
        """label -> the previous output's part of layer 0's input term, [prev one-hot] @ kernel:
        a row lookup (`no_output` = output_depth: a row of zeros), its table built once per call."""
        first = self.cells[0]
        prev_rows = tf.concat([first.kernel[: self.output_depth], tf.zeros([1, 4 * first.units])], 0)
        return lambda label: tf.gather(prev_rows, label)

    def choose(self, projected, temperature, noise):
        """The next label from the projection: argmax, or with `noise` (Gumbel, [B, output_depth])
        a sample at `temperature` (the Gumbel-max trick)."""
        if temperature is not None:
            projected = projected / temperature + noise
        return tf.argmax(projected, axis=-1)

    def sampling_noise(self, shape, seed):
        """Gumbel noise [steps, B, output_depth], all drawn up front."""
        uniform = tf.random.stateless_uniform([*shape, self.output_depth], seed, minval=1e-20, maxval=1.0)
        return -tf.math.log(-tf.math.log(uniform))

    def control_term(self, controls, z):
        """The controls' part of layer 0's input term (chords): [..., C] @ their kernel rows."""
        first = self.cells[0]
        return tf.matmul(controls, first.kernel[self.output_depth + z.shape[-1] : -first.units])

    def z_term(self, z):
        """z's part of layer 0's input term [prev, z, control] @ kernel (+ bias), the same at every step."""
        first = self.cells[0]
        z_rows = first.kernel[self.output_depth : self.output_depth + z.shape[-1]]
        return tf.matmul(z, z_rows) + first.bias

    def teacher_forced(self, z, targets, sampling_probability, noise, controls=None, start=None):
        """Training: logits [B, T, classes] for targets [B, T], each step fed the
        previous target or, with `sampling_probability` (scheduled sampling), a
        sample of the previous step's softmax. noise [B, T, 2] uniforms (coin, draw)
        come from the data pipeline, so every example's randomness is its own.
        controls [B, T, C] condition each step (chords); start [B] is the label fed
        to the first step (default: `no_output`, the zero input)."""
        previous, static = self.previous_term(), self.z_term(z)
        states = initial_states(self.z_to_state, self.cells, z)
        if start is None:
            start = tf.fill([tf.shape(z)[0]], tf.cast(self.no_output, targets.dtype))
        if controls is None:
            per_step = tf.zeros_like(targets, tf.float32)[..., None]  # broadcasts as a zero term
        else:
            per_step = self.control_term(controls, z)

        def step(carry, inputs):
            label, states, _ = carry
            target, (coin, draw), control = inputs
            h, states = step_stack(self.cells, static + control + previous(label), states)
            logits = self.projection(h)
            cdf = tf.cumsum(tf.nn.softmax(logits), axis=-1)
            sampled = tf.minimum(tf.reduce_sum(tf.cast(cdf < draw[:, None], targets.dtype), -1), self.output_depth - 1)
            label = tf.where(coin < sampling_probability, tf.stop_gradient(sampled), target)
            return label, states, logits

        per_step = (
            tf.transpose(targets),
            tf.unstack(tf.transpose(noise, [2, 1, 0]), axis=0),
            tf.transpose(per_step, [1, 0, 2]),
        )
        empty = tf.zeros([tf.shape(z)[0], self.output_depth])
        _, _, logits = tf.scan(step, per_step, initializer=(start, states, empty))
        return tf.transpose(logits, [1, 0, 2])

    def start(self, batch):
        """The first step's "previous output" for a batch: `no_output`, a row of zeros."""
        return tf.fill([batch], tf.constant(self.no_output, tf.int64))

    def sample(self, z, controls, steps, start_label, temperature, seed):
        """Decode `steps` labels. z [B, Z]; controls [steps, C] or None; start_label [B]
        (`start` before the first step); temperature None is greedy."""
        previous, static = self.previous_term(), self.z_term(z)
        if controls is not None:
            per_step = self.control_term(controls, z)
        states = initial_states(self.z_to_state, self.cells, z)
        noise = None if temperature is None else self.sampling_noise([steps, tf.shape(z)[0]], seed)

        def step(carry, t):
            label, states = carry
            x_part = static + previous(label)
            if controls is not None:
                x_part += per_step[t]
            h, new_states = step_stack(self.cells, x_part, states)
            label = self.choose(self.projection(h), temperature, None if noise is None else noise[t])
            return label, new_states

        labels, _ = tf.scan(step, tf.range(steps), initializer=(start_label, states))
        return tf.transpose(labels)


class Nade(keras.layers.Layer):
    """Magenta's NADE over `dims` binary labels, its biases given per example: label i is on
    where sigmoid(b_dec[i] + sigmoid(a) . w_dec_t[i]) >= 0.5 (or, at a temperature, drawn),
    and each label chosen adds its w_enc row to `a` (which starts at b_enc)."""

    def __init__(self, dims: int, hidden: int, path: str, **kwargs):
        super().__init__(**kwargs)
        self.dims, self.hidden, self.magenta_name = dims, hidden, path
        self.w_enc = self.add_weight(shape=(dims, 1, hidden), name="w_enc")
        self.w_dec_t = self.add_weight(shape=(dims, hidden, 1), name="w_dec_t")
        self.built = True

    def sample(self, b_enc, b_dec, temperature, uniform):
        """b_enc [B, hidden], b_dec [B, dims] -> labels [B, dims] (float 0/1); uniform [B, dims]
        draws the labels at `temperature`, None picks the likelier value."""
        a, labels = b_enc, []
        for i in range(self.dims):
            logit = b_dec[:, i] + tf.matmul(tf.sigmoid(a), self.w_dec_t[i])[:, 0]
            if temperature is None:
                on = tf.cast(tf.sigmoid(logit) >= 0.5, tf.float32)
            else:
                on = tf.cast(uniform[:, i] < tf.sigmoid(logit / temperature), tf.float32)
            a += on[:, None] * self.w_enc[i]
            labels.append(on)
        return tf.stack(labels, axis=1)


class BooleanDecoder(Decoder):
    """An LSTM decoder with one Bernoulli label per class (magenta-js's BooleanDecoder): a class
    is on where its logit >= 0, or at a temperature where sigmoid(logit / T) >= a uniform draw.
    Labels are bit masks (class c on: bit c), fed back as the classes on."""

    kind = "boolean"

    def __init__(self, sizes, output_depth: int, z_dim: int, control_depth: int, prefix: str, projection_depth=0):
        super().__init__(sizes, output_depth, z_dim, control_depth, prefix, projection_depth)
        self.no_output = 0  # no class on: a row of zeros

    def _bits(self, label):
        shifted = tf.bitwise.right_shift(label[:, None], tf.range(self.output_depth, dtype=label.dtype))
        return tf.cast(tf.bitwise.bitwise_and(shifted, 1), tf.float32)

    def previous_term(self):
        """label -> [classes on] @ kernel rows: a bit mask's part of layer 0's input term."""
        rows = self.cells[0].kernel[: self.output_depth]
        return lambda label: tf.matmul(self._bits(label), rows)

    def _mask(self, on):
        """[B, classes] of 0/1 -> bit masks [B]."""
        return tf.cast(tf.reduce_sum(on * 2.0 ** tf.range(self.output_depth, dtype=tf.float32), -1), tf.int64)

    def choose(self, projected, temperature, noise):
        if temperature is None:
            return self._mask(tf.cast(projected >= 0.0, tf.float32))
        return self._mask(tf.cast(tf.sigmoid(projected / temperature) >= noise, tf.float32))

    def sampling_noise(self, shape, seed):
        return tf.random.stateless_uniform([*shape, self.output_depth], seed)

    def teacher_forced(self, z, targets, sampling_probability, noise, controls=None, start=None):
        raise UnsupportedModelError(f"training a {self.kind} decoder is not supported by hmm_live")


class NadeDecoder(BooleanDecoder):
    """An LSTM decoder with a NADE output (Magenta's MultiLabelRnnNadeDecoder): several drum
    classes per step, each chosen given those before. Labels are bit masks, as BooleanDecoder's."""

    kind = "NADE"

    def __init__(self, sizes, output_depth: int, nade_hidden: int, z_dim: int, control_depth: int, prefix: str):
        # the projection gives the NADE's b_enc, then its b_dec
        super().__init__(sizes, output_depth, z_dim, control_depth, prefix, nade_hidden + output_depth)
        self.nade_hidden = nade_hidden
        self.nade = Nade(output_depth, nade_hidden, f"{prefix}nade")

    def choose(self, projected, temperature, noise):
        b_enc, b_dec = tf.split(projected, [self.nade_hidden, self.output_depth], axis=-1)
        return self._mask(self.nade.sample(b_enc, b_dec, temperature, noise))


class Conductor(keras.layers.Layer):
    """Hierarchical decoder's top level: z -> one embedding per bar (input is a constant 0)."""

    def __init__(self, sizes, z_dim: int, segments: int, **kwargs):
        super().__init__(**kwargs)
        self.segments = segments
        prefix = "decoder/hierarchical_level_0/"
        self.z_to_state = dense(2 * sum(sizes), z_dim, f"{prefix}initial_state")
        self.cells, input_dim = [], 1
        for i, units in enumerate(sizes):
            self.cells.append(LSTMCell(units, input_dim, f"{prefix}cell_{i}/lstm_cell"))
            input_dim = units
        self.output_dim = input_dim
        self.built = True

    def call(self, z):
        states = initial_states(self.z_to_state, self.cells, z)
        zero_input = self.cells[0].input_part(tf.zeros([tf.shape(z)[0], 1]))
        embeddings = []
        for _ in range(self.segments):
            h, states = step_stack(self.cells, zero_input, states)
            embeddings.append(h)
        return embeddings


class MusicVAENetwork(keras.Model):
    """Encoder + (conductor +) decoder(s), with a Magenta name on every weight."""

    def __init__(
        self, spec: NetworkSpec, decoder_class: type[Decoder] = Decoder, end_token: int | None = None, **kwargs
    ):
        """decoder_class: what each step writes (GrooVAE's converter asks for its GrooveDecoder);
        end_token: the input class ending each segment, where segments vary in length (multitrack)."""
        super().__init__(**kwargs)
        self.spec, self.end_token = spec, end_token  # end_token: a hierarchical encoder's (MusicVAE checks)
        self.encoder = Encoder(spec)
        self.conductor: Conductor | None
        if spec.num_segments and spec.conductor_sizes:
            self.conductor = Conductor(spec.conductor_sizes, spec.z_size, spec.num_segments)
            core_z, prefix = self.conductor.output_dim, "core_decoder/"
        else:
            self.conductor, core_z, prefix = None, spec.z_size, ""
        sizes, controls = spec.decoder_sizes, spec.control_depth
        if spec.split_depths:  # one decoder per instrument, as Magenta's SplitMultiOutLstmDecoder
            self.decoders = [
                decoder_class(sizes, depth, core_z, controls, f"{prefix}core_decoder_{i}/decoder/")
                for i, depth in enumerate(spec.split_depths)
            ]
        elif spec.nade_hidden:
            self.decoders = [
                NadeDecoder(sizes, spec.output_depth, spec.nade_hidden, core_z, controls, f"{prefix}decoder/")
            ]
        elif spec.boolean_output:
            self.decoders = [BooleanDecoder(sizes, spec.output_depth, core_z, controls, f"{prefix}decoder/")]
        else:
            self.decoders = [decoder_class(sizes, spec.output_depth, core_z, controls, f"{prefix}decoder/")]
        self.built = True

    @property
    def decoder(self) -> Decoder:
        """The decoder of a network with one (what training reads)."""
        if len(self.decoders) != 1:
            raise UnsupportedModelError(f"this network has {len(self.decoders)} decoders, one per instrument")
        return self.decoders[0]

    def encode(self, inputs, controls=None):
        """inputs [B, T, input_depth], controls [T, C] or None -> (mu, sigma)."""
        lengths = None if self.end_token is None else self.segment_lengths(inputs)
        if controls is not None:
            tiled = tf.tile(controls[tf.newaxis], [tf.shape(inputs)[0], 1, 1])
            inputs = tf.concat([inputs, tiled], axis=-1)
        return self.encoder(inputs, lengths)

    def segment_lengths(self, inputs):
        """[B * segments]: each segment's steps up to and including its first end token (a row
        that is the end token's one-hot), as magenta-js reads them; all its steps if it has none."""
        segment = self.spec.segment_length
        rows = tf.reshape(inputs, [-1, segment, inputs.shape[-1]])
        is_end = tf.reduce_all(tf.equal(rows, tf.one_hot(self.end_token, inputs.shape[-1])), axis=-1)
        first = tf.argmax(tf.cast(is_end, tf.int32), axis=1, output_type=tf.int32)
        return tf.where(tf.reduce_any(is_end, axis=1), first + 1, segment)

    def decode(self, z, controls=None, steps=None, temperature=None, seed=None):
        """z [B, Z] -> labels [B, steps], or [B, steps, instruments] from a split decoder (GrooVAE:
        outputs [B, steps, 3 * drums]). Hierarchical models decode whole bars, each decoder
        starting from its last output."""
        batch = tf.shape(z)[0]
        labels = [d.start(batch) for d in self.decoders]
        if self.conductor is None:  # flat: one "bar" of `steps` steps
            embeddings, seg, seeds = [z], steps, [seed]
        else:
            embeddings, seg = self.conductor(z), self.spec.segment_length
            seeds = [
                None if seed is None else tf.random.experimental.stateless_fold_in(seed, 1000 + i)
                for i in range(len(embeddings))
            ]
        bars = []
        for i, (embedding, bar_seed) in enumerate(zip(embeddings, seeds)):
            bar_controls = None if controls is None else controls[i * seg : (i + 1) * seg]
            parts = [
                decoder.sample(embedding, bar_controls, seg, label, temperature, _instrument_seed(bar_seed, k))
                for k, (decoder, label) in enumerate(zip(self.decoders, labels))
            ]
            labels = [part[:, -1] for part in parts]
            bars.append(parts[0] if len(parts) == 1 else tf.stack(parts, axis=-1))
        return tf.concat(bars, axis=1)[:, :steps]

    def teacher_forced(self, z, targets, sampling_probability, noise, controls=None):
        """Training logits [B, T, classes] (see `Decoder.teacher_forced`). A hierarchical
        decoder runs every bar from its conductor embedding, its first step fed the true
        last label of the bar before, as Magenta trains it; the bars are then
        independent, so they run side by side as one batch of B * bars."""
        if self.conductor is None:
            return self.decoder.teacher_forced(z, targets, sampling_probability, noise, controls)
        bars, seg = self.spec.num_segments, self.spec.segment_length

        def by_bar(x):  # [B, T, ...] -> [B * bars, seg, ...]
            return tf.reshape(x, [-1, seg, *x.shape[2:]])

        embeddings = tf.reshape(tf.stack(self.conductor(z), axis=1), [-1, self.conductor.output_dim])
        none = tf.fill([tf.shape(z)[0], 1], tf.cast(self.decoder.no_output, targets.dtype))
        starts = tf.concat([none, targets[:, seg - 1 : -1 : seg]], axis=1)  # the label before each bar
        logits = self.decoder.teacher_forced(
            embeddings,
            by_bar(targets),
            sampling_probability,
            by_bar(noise),
            None if controls is None else by_bar(controls),
            tf.reshape(starts, [-1]),
        )
        return tf.reshape(logits, [-1, bars * seg, self.spec.output_depth])

    def magenta_weights(self) -> dict[str, keras.Variable]:
        """Every weight under its Magenta / magenta-js variable name."""
        named = {}
        for layer in self._flatten_layers():
            if isinstance(layer, (LSTMCell, keras.layers.Dense)):
                named[f"{layer.magenta_name}/kernel"], named[f"{layer.magenta_name}/bias"] = layer.kernel, layer.bias
            elif isinstance(layer, Nade):
                named[f"{layer.magenta_name}/w_enc"] = layer.w_enc
                named[f"{layer.magenta_name}/w_dec_t"] = layer.w_dec_t
        return named


def _instrument_seed(seed, instrument: int):
    """The first decoder samples with `seed` itself, each other with its own fold of it."""
    if seed is None or instrument == 0:
        return seed
    return tf.random.experimental.stateless_fold_in(seed, 2000 + instrument)


def dense(units: int, input_dim: int, path: str) -> keras.layers.Dense:
    """A built Dense layer that knows its Magenta variable scope."""
    layer = keras.layers.Dense(units)
    layer.build((None, input_dim))
    layer.magenta_name = path
    return layer
