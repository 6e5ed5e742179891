"""`train_musicvae`: MIDI or a music21 collection in, a MusicVAE checkpoint folder out.

The output folder is an hmm_live checkpoint (`MusicVAE.load` reads it,
`export` turns it into magenta-js) plus `training.json` (what was trained
on, how, for how long, and the validation history). While a run is under
way, `training/state.npz` holds full-precision weights and the optimizer
so that the same call resumes where the last save left off; it is removed
when the run completes. TensorBoard logs go to `training/logs`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from hmm_live.errors import CheckpointError, ConfigError, UnsupportedModelError
from hmm_live.files import atomic_write, cache_dir
from hmm_live.models.musicvae.configs import HParams, get_config
from hmm_live.models.musicvae.model import MusicVAE
from hmm_live.training.distribute import is_chief, make_strategy
from hmm_live.training.examples import Report, extract
from hmm_live.training.objective import MagentaSchedule, Objective
from hmm_live.training.pipeline import Chords, eval_dataset, training_dataset

STATE = Path("training") / "state.npz"
TRAINABLE = ("MelodyConverter", "DrumsConverter", "GrooveConverter")  # the decoders objective.py has losses for
NOT_TRAINABLE = {  # what the other families would need: their decoders' own losses
    "TrioConverter": "trio (three decoders, melody, bass and drums)",
    "DrumRollConverter": "NADE drum (multi-label NADE decoder)",
    "MultitrackConverter": "multitrack performance",
}
NOT_TRAINED_HERE = {  # configs whose training needs what this trainer does not do
    "groovae_2bar_tap_fixed_velocity_note_dropout": "its note dropout (inputs thinned in training) is not "
    "implemented; groovae_2bar_tap_fixed_velocity is the same model without it",
}
_SCHEDULES_IN_VALIDATION = ("val_beta", "val_sampling_probability")  # constants there: not history
VALIDATION_EXAMPLES = 2048


@dataclasses.dataclass
class TrainingRun:
    model: MusicVAE
    report: Report
    steps: int
    history: list[dict[str, float]]


def train_musicvae(
    sources: Iterable[str | Path],
    out: str | Path,
    config: str = "cat-mel_2bar_small",
    *,
    z_size: int | None = None,
    encoder_sizes: Sequence[int] | None = None,
    decoder_sizes: Sequence[int] | None = None,
    steps: int = 5000,
    save_every: int = 200,
    seed: int = 0,
    strategy: str = "default",
    cpu_devices: int | None = None,
    quantization: str | None = None,
    keep_state: bool = False,
    verbose: int | str = "auto",
    init_from: str | Path | None = None,
    log: Callable[[str], None] = print,
    **hparams: Any,
) -> TrainingRun:
    """Train (or resume training) a MusicVAE of a melody or drums config: flat
    (2 or 16 bars), hierarchical (hierdec-/hier-mel_16bar) or chord-conditioned
    (cat-mel_2bar_med_chords), or a GrooVAE (groovae_*: drum performances, read
    from unquantised MIDI, with tap2drum's or humanize's inputs); returns the
    trained model.

    `hparams` override the config's Magenta hyperparameters (batch_size,
    learning_rate, free_bits, max_beta, beta_rate, sampling_rate, transpose...).
    Training runs exactly `steps` steps, a whole number of `save_every` intervals
    (a run shorter than one saves once, at its end), and saves every
    `save_every` steps; an interrupted run loses at most one
    interval when the same call is made again. `init_from` starts from the
    weights of a trained model of the same shape (fine-tuning, for instance
    with another KL schedule) instead of random ones.
    """
    cfg = get_config(config)
    kind = cfg.data_converter["type"]
    if kind not in TRAINABLE:
        raise UnsupportedModelError(
            f"training {config} is not supported: it is a {NOT_TRAINABLE.get(kind, kind)} model, and "
            f"hmm_live trains melody and drum models with one categorical decoder (flat, hierarchical "
            f"or chord-conditioned) and GrooVAEs"
        )
    if config in NOT_TRAINED_HERE:
        raise UnsupportedModelError(f"training {config} is not supported: {NOT_TRAINED_HERE[config]}")
    unknown = set(hparams) - {f.name for f in dataclasses.fields(HParams)}
    if unknown:
        raise ConfigError(f"unknown hyperparameter(s) {', '.join(sorted(unknown))}")
    sizes: dict[str, Any] = {
        k: v
        for k, v in (
            ("z_size", z_size),
            ("encoder_sizes", tuple(encoder_sizes or ())),
            ("decoder_sizes", tuple(decoder_sizes or ())),
        )
        if v
    }
    hp = dataclasses.replace(cfg.hparams, **hparams, **sizes)
    if kind == "GrooveConverter" and hp.sampling_rate:
        raise ConfigError(
            f"sampling_rate {hp.sampling_rate}: a GrooVAE trains with teacher forcing, as Magenta's "
            f"groovae configs do (scheduled sampling of its continuous outputs is not supported)"
        )
    if steps <= 0 or save_every <= 0:
        raise ConfigError(f"steps and save_every must be positive, got {steps} and {save_every}")
    save_every = min(save_every, steps)
    if steps % save_every:
        below, above = steps - steps % save_every, steps - steps % save_every + save_every
        raise ConfigError(
            f"steps ({steps}) must be a whole number of save_every intervals ({save_every}), "
            f"so that exactly that many are trained: try {below} or {above}"
        )
    out = Path(out)
    strategy_obj = make_strategy(strategy, cpu_devices)  # before anything else touches TensorFlow
    keras.utils.set_random_seed(seed)

    with strategy_obj.scope():
        model = MusicVAE.create(
            config,
            hp.z_size,
            hp.encoder_sizes,
            hp.decoder_sizes,
            seed=seed,
        )
    if init_from is not None:  # a resumed run then replaces these weights with its own
        _initialise(model, Path(init_from))
    splits, report = extract(sources, model.data_converter, cache_dir("examples"), model.chord_encoder)
    log(f"data: {report.summary()}")
    if not len(splits["train"]):
        raise ConfigError(f"no training examples in {', '.join(map(str, sources))}: {report.summary()}")
    held_out = "validation" if len(splits["validation"]) else "train"
    validation = np.random.default_rng(seed).permutation(len(splits[held_out]))[:VALIDATION_EXAMPLES]
    train_chords = validation_controls = None
    if model.chord_encoder:
        train_chords = Chords(splits["train_chords"], splits["chord_symbols"], model.chord_encoder)
        validation_controls = Chords(
            splits[f"{held_out}_chords"][validation], splits["chord_symbols"], model.chord_encoder
        ).vectors()

    with strategy_obj.scope():
        objective = Objective(model.network, model.data_converter, hp)
        objective.compile(optimizer=keras.optimizers.Adam(MagentaSchedule(hp)))
        objective.optimizer.build(model.network.trainable_variables)
    identity = json.loads(
        json.dumps(
            {  # as stored: tuples become lists
                "config": config,
                "network": model.spec.to_json(),
                "hparams": dataclasses.asdict(hp),
                "seed": seed,
                "examples": report.windows,
                **({"init_from": str(init_from)} if init_from is not None else {}),
            }
        )
    )
    state = _resume(out / STATE, model, objective, identity)
    start = state.get("step", 0)
    epochs = steps // save_every
    if start >= epochs * save_every:
        log(f"{out} has already been trained for {start} steps")
    else:
        log(
            f"training {model} from step {start} to {epochs * save_every}, batch {hp.batch_size}, "
            f"{strategy_obj.num_replicas_in_sync} replica(s)"
        )
    saver = _Saver(out, model, objective, identity, state, report, quantization, save_every, log)
    callbacks = [saver] + [
        keras.callbacks.TensorBoard(str(out / "training" / "logs"), update_freq=50) for _ in range(is_chief())
    ]
    objective.fit(
        training_dataset(
            splits["train"], model.data_converter, hp.z_size, hp.batch_size, seed, start, hp.transpose, train_chords
        ),
        epochs=epochs,
        initial_epoch=start // save_every,
        steps_per_epoch=save_every,
        validation_data=eval_dataset(
            splits[held_out][validation], hp.z_size, min(hp.batch_size, 512), validation_controls
        ),
        callbacks=callbacks,
        shuffle=False,
        verbose=(2 if not sys.stdout.isatty() else 1) if verbose == "auto" else verbose,
    )
    saver.finish(keep_state)
    return TrainingRun(model, report, saver.state["step"], saver.state["history"])


def _initialise(model: MusicVAE, source: Path) -> None:
    """Copy a trained model's weights into the new one; its shapes must match."""
    trained = MusicVAE.load(source)
    if trained.spec != model.spec or trained.data_converter.spec() != model.data_converter.spec():
        raise ConfigError(
            f"--init-from {source} is a {trained!r}, not the {model!r} being trained: give the same config and sizes"
        )
    weights = trained.weights()
    for name, var in model.network.magenta_weights().items():
        var.assign(weights[name])


def _resume(path: Path, model: MusicVAE, objective: Objective, identity: dict) -> dict:
    """Load the weights and optimizer of an interrupted run, if there is one."""
    if not path.exists():
        return {"step": 0, "history": [], "seconds": 0.0}
    try:
        with np.load(path, allow_pickle=False) as data:
            state = json.loads(str(data["state"]))
            if state["identity"] != identity:
                raise CheckpointError(
                    f"{path} belongs to a different run ({_diff(state['identity'], identity)}): "
                    f"train into another folder, or delete {path.parent} to start afresh"
                )
            for name, var in model.network.magenta_weights().items():
                var.assign(data[f"w/{name}"])
            for i, var in enumerate(objective.optimizer.variables):
                var.assign(data[f"opt/{i}"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"cannot resume from {path}: {e} (delete it to start afresh)") from None
    return state


def _diff(old: dict, new: dict) -> str:
    return "; ".join(f"{k} was {old.get(k)!r}, now {new.get(k)!r}" for k in new if old.get(k) != new.get(k))


@contextlib.contextmanager
def _uninterrupted():
    """Hold Ctrl-C until the block ends, so that a save is whole: the model folder, its
    card and the resume state agree on the step (a run resumes where its card says)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list = []
    previous = signal.signal(signal.SIGINT, lambda *received: held.append(received))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held and callable(previous):
            previous(*held[0])
        elif held and previous == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)


class _Saver(keras.callbacks.Callback):
    """Every interval: the model folder, then the resume state, each written atomically."""

    def __init__(
        self,
        out: Path,
        model: MusicVAE,
        objective: Objective,
        identity: dict,
        state: dict,
        report: Report,
        quantization: str | None,
        save_every: int,
        log: Callable[[str], None],
    ):
        super().__init__()
        self.out, self.model_, self.objective, self.identity = out, model, objective, identity
        self.state, self.report, self.quantization, self.save_every, self.log = (
            state,
            report,
            quantization,
            save_every,
            log,
        )
        self.started = time.monotonic()
        self.seconds_before = state.get("seconds", 0.0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.state["step"] = int(self.objective.optimizer.iterations.numpy())
        self.state["seconds"] = self.seconds_before + time.monotonic() - self.started
        self.state["history"].append(
            {
                "step": self.state["step"],
                **{k: round(float(v), 5) for k, v in (logs or {}).items() if k not in _SCHEDULES_IN_VALIDATION},
            }
        )
        if not is_chief():
            return
        with _uninterrupted():
            self.model_.save(self.out, quantization=self.quantization)
            self._write_card()
            with atomic_write(self.out / STATE) as f:
                arrays = {
                    **{f"w/{n}": v for n, v in self.model_.weights().items()},
                    **{f"opt/{i}": v.numpy() for i, v in enumerate(self.objective.optimizer.variables)},
                }
                np.savez(f, state=json.dumps({**self.state, "identity": self.identity}), **arrays)

    def _write_card(self) -> None:
        data = {
            **self.identity,
            "steps": self.state["step"],
            "wall_seconds": round(self.state["seconds"], 1),
            "data": self.report.to_json(),
            "history": self.state["history"],
        }
        with atomic_write(self.out / "training.json", "w") as f:
            json.dump(data, f, indent=1)

    def finish(self, keep_state: bool) -> None:
        if is_chief() and not keep_state:
            (self.out / STATE).unlink(missing_ok=True)
