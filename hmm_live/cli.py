"""The `hmm-live` command: demo, info and export for MusicVAE checkpoints.

It grows with the project: training, the live jam and the notebook
launcher join as they land.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "checkpoints" / "mel_2bar_folk"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hmm-live", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="sample and interpolate, write MIDI files")
    demo.add_argument("checkpoint", nargs="?", help=f"checkpoint (default: {DEFAULT_MODEL.name})")
    demo.add_argument("--config", help="Magenta config name, for TF checkpoints")
    demo.add_argument("--out", default="hmm_live_demo", help="folder for the MIDI files")
    demo.add_argument("-n", type=int, default=4, help="number of samples")
    demo.add_argument("--temperature", type=float, default=0.5)
    demo.add_argument("--interpolate", nargs=2, metavar="MIDI", help="two MIDI files to morph between")
    demo.add_argument("--steps", type=int, default=5, help="interpolation steps, ends included")
    demo.add_argument("--seed", type=int, default=None)

    info = sub.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint")
    info.add_argument("--config")

    export = sub.add_parser("export", help="convert a checkpoint to magenta-js or hmm_live format")
    export.add_argument("checkpoint")
    export.add_argument("out")
    export.add_argument("--config")
    export.add_argument("--format", choices=["magenta-js", "hmm_live"], default="magenta-js")
    export.add_argument("--quantization", choices=["uint8", "uint16"])

    args = parser.parse_args(argv)
    from hmm_live.errors import HmmLiveError

    try:
        return {"demo": _demo, "info": _info, "export": _export}[args.command](args)
    except HmmLiveError as e:
        print(f"hmm-live: error: {e}", file=sys.stderr)
        return 2


def _load(checkpoint: str | None, config: str | None):
    from hmm_live import MusicVAE

    if checkpoint:
        return MusicVAE.load(checkpoint, config)
    if DEFAULT_MODEL.exists():
        return MusicVAE.load(DEFAULT_MODEL)
    print("hmm-live: no default model is shipped yet and no checkpoint was given: using an "
          "UNTRAINED cat-mel_2bar_small network, so expect noise", file=sys.stderr)
    return MusicVAE.create("cat-mel_2bar_small", 256, [512], [256, 256], seed=0)


def _demo(args) -> int:
    from hmm_live.music import read_midi, slice_bars, write_midi

    model = _load(args.checkpoint, args.config)
    print(model)
    out = Path(args.out)
    written = []
    for i, seq in enumerate(model.sample(args.n, args.temperature, seed=args.seed)):
        written.append(write_midi(seq, out / f"sample_{i}.mid"))
    if args.interpolate:
        a, b = (slice_bars(read_midi(p), 0, model.data_converter.num_bars) for p in args.interpolate)
        for i, seq in enumerate(model.interpolate(a, b, args.steps)):
            written.append(write_midi(seq, out / f"interpolation_{i}.mid"))
    for path in written:
        print(f"wrote {path}")
    return 0


def _info(args) -> int:
    model = _load(args.checkpoint, args.config)
    print(model)
    print(f"data converter: {model.data_converter.spec()}")
    if model.chord_encoder:
        print(f"chord encoder: {model.chord_encoder.name}")
    return 0


def _export(args) -> int:
    model = _load(args.checkpoint, args.config)
    path = model.save(args.out) if args.format == "hmm_live" else model.export(args.out, quantization=args.quantization)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
