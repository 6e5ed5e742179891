"""Drummer benchmark: from a bar's close to its tap2drum drums being scheduled, beside the answer.

For each size of the published tap2drum models (random weights, the published
sizes: z 256, a bidirectional 512-unit encoder, a 2 x 256 decoder; 1 bar and
2 bars long), the engine jams in-process with the shipped melody model, its
subspace trained on the shipped clips, and the drummer: the demo performance
(human timing jitter) is fed into its capture, bar after bar. It measures, in
the same run:
 - drums: bar closed -> drums scheduled ("hmm_live drummer"), p50/p99;
 - answer: bar closed -> answer scheduled ("hmm_live responder"), p50/p99;
and, apart, the drummer's own cost (one `perform` call, nothing else running).
Both threads share the CPU with each other (and with whatever else runs here).

    python bench/drummer.py [--quick] [--bars N] [--bpm B] [--out FILE]

--quick: 16 bars per size (CI); default 300 bars per size at 300 BPM.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import arguments, emit, log, stats_ms, target

from hmm_live import ClipLibrary, MusicVAE
from hmm_live.live import Engine
from hmm_live.live.demo import JITTER, performance
from hmm_live.live.drummer import perform
from hmm_live.live.performer import perform_in_thread
from hmm_live.models.musicvae.network import NetworkSpec
from hmm_live.models.subspace_training import train_subspace
from hmm_live.music.groove import GrooveConverter
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS

TARGET_P99_MS = 20.0  # issue 16: a tap2drum answer ready within 20 ms of the bar closing


def tap2drum(bars: int) -> MusicVAE:
    """A random-weight tap2drum model of the published size (tap2drum_1bar .. _4bar share it)."""
    converter = GrooveConverter(16 * bars, tapify=True)
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=256,
        encoder_sizes=(512,),
        decoder_sizes=(256, 256),
        num_steps=converter.num_steps,
    )
    model = MusicVAE(spec, converter)
    rng = np.random.default_rng(bars)
    for var in model.network.magenta_weights().values():  # every weight random: no path goes untested
        var.assign(rng.normal(0.0, 0.05, var.shape).astype(np.float32))
    return model


def alone(drummer: MusicVAE, played: list, bpm: float) -> dict[str, float]:
    """The drummer's own cost: one `perform` per bar, nothing else running."""
    seconds = []
    for bar in played:
        started = time.perf_counter()
        perform(drummer, bar, bpm)
        seconds.append(time.perf_counter() - started)
    return stats_ms(seconds)


def jam(models: tuple, drummer: MusicVAE, clips: ClipLibrary, bars: int, bpm: float) -> dict:
    played = performance(clips, bars)
    with Engine(*models, input=False, output=False, bpm=bpm, drummer=drummer) as engine:
        time.sleep(1.0)  # the warm-ups (answer and drums) before the first bar
        first = engine.clock.next_bar()
        perform_in_thread(
            engine.feed, engine.clock, played, "hmm_live bench performer", first_bar=first, jitter=JITTER
        ).join()
        time.sleep(max(0.0, engine.clock.bar_time(first + bars + 1) - time.monotonic()))
        status = engine.status()
    return {
        "drums": stats_ms(list(engine.drum_s)),
        "answer": stats_ms(list(engine.compute_s)),
        "bars_played": bars,
        "bars_drummed": status["drummed"],
        "bars_answered": status["answered"],
        "last_error": status["last_error"],
        "drummer_alone": alone(drummer, played[: min(bars, 100)], bpm),
    }


def main() -> None:
    parser = arguments(__doc__, "16 bars per size (CI)")
    parser.add_argument("--bars", type=int, help="bars per size (default 300; --quick 16)")
    parser.add_argument("--bpm", type=float, default=300.0)
    args = parser.parse_args()
    bars = args.bars or (16 if args.quick else 300)
    musicvae = MusicVAE.load(DEFAULT_MODEL)
    clips = ClipLibrary.from_midi(DEMO_CLIPS, bars=2)
    models = (musicvae, *train_subspace(musicvae, clips))
    report: dict = {"quick": args.quick, "bpm": args.bpm, "sizes": {}}
    for size in (1, 2):
        name = f"tap2drum_{size}bar"
        log(f"{name}-sized random model: {bars} bars at {args.bpm} BPM")
        report["sizes"][name] = jam(models, tap2drum(size), clips, bars, args.bpm)
    report["targets"] = [
        target(f"{name}.drums_p99_ms", size["drums"]["p99_ms"], "<=", TARGET_P99_MS)
        for name, size in report["sizes"].items()
    ]
    emit(report, args.out)


if __name__ == "__main__":
    main()
