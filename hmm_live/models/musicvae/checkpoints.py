"""Reading and writing MusicVAE weights: magenta-js folders, TF1 checkpoints, our own.

- magenta-js: config.json + weights_manifest.json + binary shards (weights
  concatenated in manifest order, little-endian float32, or uint8/uint16
  with value = q * scale + min).
- Magenta TF1: model.ckpt-N.{index,data-*} (a prefix, a folder or a .tar);
  the config name must be given.
- hmm_live's own: a magenta-js folder plus hmm_live.json (config name and
  network sizes). Nothing here unpickles.
"""
from __future__ import annotations

import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmm_live.errors import CheckpointError, ConfigError, UnsupportedModelError
from hmm_live.files import atomic_folder
from hmm_live.models.musicvae.configs import get_config
from hmm_live.models.musicvae.network import NetworkSpec

OWN_FILE = "hmm_live.json"
OWN_FORMAT = 1
SHARD_BYTES = 4 * 1024 * 1024
_QUANT_DTYPES = {"uint8": np.uint8, "uint16": np.uint16}


@dataclass
class Checkpoint:
    """Weights by Magenta variable name, plus what the data converter needs."""

    weights: dict[str, np.ndarray]
    js_config: dict[str, Any]  # magenta-js config.json content
    config_name: str | None
    source: str
    spec: NetworkSpec | None = None  # known for hmm_live's own folders


def read_checkpoint(path: str | Path, config: str | None = None) -> Checkpoint:
    """Read any supported checkpoint; `config` names the Magenta config of TF1 ones."""
    path = Path(path)
    if path.is_dir():
        if (path / OWN_FILE).exists():
            return _read_own(path)
        if (path / "weights_manifest.json").exists():
            return _read_js(path, config)
        if any(path.glob("*.index")):
            return _read_tf(_tf_prefix(path), config)
        raise CheckpointError(f"{path} holds no MusicVAE checkpoint (no {OWN_FILE}, "
                              f"weights_manifest.json or TF *.index file)")
    if path.is_file() and tarfile.is_tarfile(path):
        return _read_tar(path, config)
    if Path(f"{path}.index").exists():
        return _read_tf(path, config)
    if path.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: give a folder, a .tar or a TF "
                              f"checkpoint prefix (model.ckpt-N)")
    raise CheckpointError(f"checkpoint {path} does not exist")


def write_js(folder: str | Path, weights: dict[str, np.ndarray], js_config: dict[str, Any],
             quantization: str | None = None, own: dict[str, Any] | None = None) -> Path:
    """Write a magenta-js checkpoint folder atomically (optionally uint8/uint16 quantised).

    Files of an existing folder that are not checkpoint files (a model card,
    training state) stay.
    """
    if quantization not in (None, *_QUANT_DTYPES):
        raise ConfigError(f"quantization must be None, 'uint8' or 'uint16', not {quantization!r}")
    folder = Path(folder)
    entries, blob = [], bytearray()
    for name, value in weights.items():
        value = np.ascontiguousarray(value, np.float32)
        entry = {"name": name, "shape": list(value.shape), "dtype": "float32"}
        if quantization:
            data, entry["quantization"] = _quantize(value, quantization)
        else:
            data = value.astype("<f4").tobytes()
        entries.append(entry)
        blob += data
    shards = [bytes(blob[i:i + SHARD_BYTES]) for i in range(0, max(len(blob), 1), SHARD_BYTES)]
    names = [f"group1-shard{i + 1}of{len(shards)}" for i in range(len(shards))]
    with atomic_folder(folder, keep=_not_checkpoint_file) as tmp:
        for name, shard in zip(names, shards):
            (tmp / name).write_bytes(shard)
        _write_json(tmp / "weights_manifest.json", [{"paths": names, "weights": entries}])
        _write_json(tmp / "config.json", js_config)
        if own is not None:
            _write_json(tmp / OWN_FILE, own)
    return folder


def _not_checkpoint_file(name: str) -> bool:
    return name not in ("weights_manifest.json", "config.json", OWN_FILE) and not re.fullmatch(
        r"group\d+-shard\d+of\d+", name)


def _quantize(value: np.ndarray, dtype: str) -> tuple[bytes, dict[str, Any]]:
    lo, hi = (float(value.min()), float(value.max())) if value.size else (0.0, 0.0)
    levels = np.iinfo(_QUANT_DTYPES[dtype]).max
    scale = (hi - lo) / levels if hi > lo else 1.0
    q = np.round((value.astype(np.float64) - lo) / scale).astype(_QUANT_DTYPES[dtype])
    return q.astype(q.dtype.newbyteorder("<")).tobytes(), {"dtype": dtype, "scale": scale, "min": lo}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from None


def _read_own(folder: Path) -> Checkpoint:
    own = _read_json(folder / OWN_FILE)
    if not isinstance(own, dict) or own.get("format") != OWN_FORMAT:
        raise CheckpointError(f"{folder / OWN_FILE} is not an hmm_live format {OWN_FORMAT} file")
    try:
        spec = NetworkSpec.from_json(own.get("network"))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / OWN_FILE} has no valid network spec: {e}") from None
    ckpt = _read_js(folder, own.get("config"))
    ckpt.spec = spec
    return ckpt


def _read_js(folder: Path, config: str | None) -> Checkpoint:
    js_config = _read_json(folder / "config.json")
    if not isinstance(js_config, dict) or js_config.get("type") != "MusicVAE":
        kind = js_config.get("type") if isinstance(js_config, dict) else js_config
        raise UnsupportedModelError(f"{folder / 'config.json'} describes a {kind!r} model, not a MusicVAE")
    if "dataConverter" not in js_config:
        raise CheckpointError(f"{folder / 'config.json'} has no dataConverter")
    manifest_path = folder / "weights_manifest.json"
    manifest = _read_json(manifest_path)
    weights: dict[str, np.ndarray] = {}
    try:
        for group in manifest:
            paths = [folder / p for p in group["paths"]]
            blob = b"".join(_read_shard(p) for p in paths)
            offset = 0
            for entry in group["weights"]:
                value, offset = _read_entry(entry, blob, offset, paths)
                weights[entry["name"]] = value
            if offset != len(blob):
                raise CheckpointError(
                    f"shards {', '.join(p.name for p in paths)} hold {len(blob)} bytes but "
                    f"{manifest_path} describes {offset}: manifest and shards do not match")
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{manifest_path} is malformed (missing {e})") from None
    return Checkpoint(weights, js_config, config, str(folder))


def _read_shard(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"weight shard {path} cannot be read: {e.strerror or e}") from None


def _read_entry(entry: dict, blob: bytes, offset: int, paths: list[Path]) -> tuple[np.ndarray, int]:
    name, shape = entry["name"], [int(d) for d in entry["shape"]]
    quant = entry.get("quantization")
    if quant:
        if quant.get("dtype") not in _QUANT_DTYPES:
            raise CheckpointError(f"variable {name}: unsupported quantization {quant.get('dtype')!r}")
        dtype = np.dtype(_QUANT_DTYPES[quant["dtype"]]).newbyteorder("<")
    elif entry.get("dtype", "float32") == "float32":
        dtype = np.dtype("<f4")
    else:
        raise CheckpointError(f"variable {name}: unsupported dtype {entry.get('dtype')!r}")
    size = int(np.prod(shape)) * dtype.itemsize
    if offset + size > len(blob):
        raise CheckpointError(
            f"variable {name} needs bytes {offset}..{offset + size} but shards "
            f"{', '.join(p.name for p in paths)} hold only {len(blob)}: truncated or missing data")
    value = np.frombuffer(blob, dtype, count=size // dtype.itemsize, offset=offset).reshape(shape)
    if quant:
        value = value.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
    return value.astype(np.float32), offset + size


_SKIP_TF = re.compile(r"(^global_step$|/Adam(_\d+)?$|^beta[12]_power)")


def _read_tf(prefix: Path, config: str | None) -> Checkpoint:
    if config is None:
        raise ConfigError(f"{prefix} is a Magenta TF checkpoint, which carries no config: "
                          f"pass config= one of Magenta's config names, e.g. 'cat-mel_2bar_small'")
    cfg = get_config(config)
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
        names = [n for n in reader.get_variable_to_shape_map() if not _SKIP_TF.search(n)]
        weights = {n: np.asarray(reader.get_tensor(n), np.float32) for n in names}
    except Exception as e:  # tf raises DataLossError, NotFoundError, OpError...
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"TF checkpoint {prefix} cannot be read: {message}") from None
    return Checkpoint(weights, cfg.js_config(), cfg.name, str(prefix))


def _tf_prefix(folder: Path) -> Path:
    indexes = sorted(folder.glob("*.index"), key=lambda p: [int(s) if s.isdigit() else s
                                                             for s in re.split(r"(\d+)", p.name)])
    return indexes[-1].with_suffix("")  # the newest model.ckpt-N


def _read_tar(path: Path, config: str | None) -> Checkpoint:
    with tempfile.TemporaryDirectory(prefix="hmm_live_ckpt_") as tmp:
        try:
            with tarfile.open(path) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise CheckpointError(f"{path} cannot be unpacked: {e}") from None
        folders = sorted({p.parent for p in Path(tmp).rglob("*.index")}
                         | {p.parent for p in Path(tmp).rglob("weights_manifest.json")})
        if not folders:
            raise CheckpointError(f"{path} contains no MusicVAE checkpoint")
        ckpt = read_checkpoint(folders[0], config)
        ckpt.source = str(path)
        return ckpt


def infer_spec(weights: dict[str, np.ndarray], num_steps: int, num_segments: int | None,
               input_depth: int) -> NetworkSpec:
    """Read a network's sizes off its Magenta variable shapes."""
    for marker, what in (("nade/", "NADE decoder"), ("core_decoder_0/", "multi-output (trio) decoder"),
                         ("control_preprocessing/", "control-preprocessing decoder"),
                         ("input_projection_wrapper", "residual LSTM")):
        if any(marker in n for n in weights):
            raise UnsupportedModelError(f"the checkpoint has a {what} ({marker}...), "
                                        f"which hmm_live does not support")

    def need(name: str) -> np.ndarray:
        if name not in weights:
            raise CheckpointError(f"the checkpoint lacks variable {name}")
        return weights[name]

    def cell_sizes(fmt: str) -> list[int]:
        sizes = []
        while fmt % len(sizes) + "/bias" in weights:
            sizes.append(weights[fmt % len(sizes) + "/bias"].shape[0] // 4)
        return sizes

    bidi = "cell_%d/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell"
    hier_levels = [cell_sizes(f"encoder/hierarchical_level_{k}/{bidi}") for k in (0, 1)]
    hierarchical_encoder = bool(hier_levels[0])
    if hierarchical_encoder:
        if any(len(level) != 1 for level in hier_levels):
            raise UnsupportedModelError("hierarchical encoders need exactly 2 levels of one layer each")
        encoder_sizes = [level[0] for level in hier_levels]
        first_kernel = need(f"encoder/hierarchical_level_0/{bidi % 0}/kernel")
    else:
        encoder_sizes = cell_sizes(f"encoder/{bidi}")
        first_kernel = need(f"encoder/{bidi % 0}/kernel")
    if not encoder_sizes:
        raise CheckpointError("the checkpoint has no encoder LSTM (encoder/cell_0/... or "
                              "encoder/hierarchical_level_0/...)")
    control_depth = first_kernel.shape[0] - encoder_sizes[0] - input_depth
    z_size = need("encoder/mu/bias").shape[0]
    conductor_sizes = cell_sizes("decoder/hierarchical_level_0/cell_%d/lstm_cell")
    prefix = "core_decoder/decoder/" if conductor_sizes else "decoder/"
    decoder_sizes = cell_sizes(prefix + "multi_rnn_cell/cell_%d/lstm_cell")
    if not decoder_sizes:
        raise CheckpointError(f"the checkpoint has no decoder LSTM ({prefix}multi_rnn_cell/cell_0/...)")
    if conductor_sizes and not num_segments:
        raise CheckpointError("the checkpoint has a hierarchical decoder but its data converter "
                              "has no numSegments")
    if control_depth < 0:
        raise CheckpointError(f"encoder kernel {bidi % 0}/kernel has {first_kernel.shape[0]} rows, "
                              f"too few for {input_depth} input values and {encoder_sizes[0]} units")
    return NetworkSpec(
        input_depth=input_depth, output_depth=need(prefix + "output_projection/bias").shape[0],
        z_size=z_size, encoder_sizes=tuple(encoder_sizes), decoder_sizes=tuple(decoder_sizes),
        num_steps=num_steps, control_depth=control_depth, num_segments=num_segments or 0,
        hierarchical_encoder=hierarchical_encoder, conductor_sizes=tuple(conductor_sizes))


def assign_weights(named: dict[str, Any], weights: dict[str, np.ndarray], source: str) -> None:
    """Copy checkpoint arrays into the network's variables, checking every name and shape."""
    missing = sorted(set(named) - set(weights))
    wrong = [f"{n} {list(weights[n].shape)} (expected {list(v.shape)})"
             for n, v in named.items() if n in weights and tuple(weights[n].shape) != tuple(v.shape)]
    if missing or wrong:
        parts = ([f"missing variables: {', '.join(missing)}"] if missing else []) + \
                ([f"wrong shapes: {'; '.join(wrong)}"] if wrong else [])
        raise CheckpointError(f"{source} does not match the model: {'. '.join(parts)}")
    for name, var in named.items():
        var.assign(weights[name])
