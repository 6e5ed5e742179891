"""Musical quality of the default models: realistic samples, smooth morphs, and answers that listen.

The melody model is mel_2bar_folk (O'Neill's, Ryan's and Aird's tunes), the
drum model drums_2bar_groove (the Groove MIDI Dataset in ../shared; skipped,
with the reason, when it is absent). Everything is measured on held-out data
of each model's training collections (the "test" split as
`hmm_live.training.extract` gives it):
 - realism (Yang & Lerch 2018, `hmm_live.music.realism`): samples at
   temperatures 0.5 and 1.0 against one half of the held-out windows, next to
   the ceiling (the other half) and two baselines: a random-weight MusicVAE of
   the same sizes, and random pitches (drums: instruments) on real rhythms.
   Reconstructions of the ceiling's half (encoded, decoded greedily) show what
   the model makes of real music, apart from sampling;
 - interpolation: 6-step morphs (7 sequences, ends included) between pairs of
   held-out windows: notes changed per step, and the largest step's share of
   the whole change (an even morph: 17%);
 - the jam: a Session with its default settings is trained on 16 clips cut
   from held-out tunes, then answers bars it never trained on: the other bars
   of those tunes and bars of other held-out tunes. For each way of answering
   (the Responder design, "listen" at five `lead` values, the defaults) and two
   references (a random point of the map; a spherical blend half way between
   the bar's own code and the Responder's point, decoded greedily): pitch-class
   cosine, onset Jaccard, same tonic and echo F1 (`hmm_live.music.relatedness`),
   and the time from a bar to its answer;
 - the drum jam (`drum_jam`): a default session on the shipped drum model and
   Groove clips, in 2 and 4 dimensions, answers the shipped unseen drum bars
   (no ../shared needed): drum relatedness beside a random point of the map
   and the drummer's own next bar; `--drum-roll FILE.png` draws a few.

The held-out "tunes" of the jam are runs of held-out windows that overlap by
one bar: `extract` keeps a piece's windows in order, one bar apart, so a run
is consecutive bars of one tune (a dropped repeat ends it). Clip tunes come
from one half of the held-out windows and the other tunes from the other half.
`extract` caches its windows (~/.cache/hmm_live/examples); the first run on a
machine parses the corpus once (minutes). `--windows FILE` reads them from a file
tests/data/make_heldout.py wrote instead (the same windows, no corpus, no ../shared).

    python bench/music.py [--quick] [--windows FILE] [--out FILE] [--drum-roll FILE.png]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import arguments, emit, log, stats_ms, target

from hmm_live import MusicVAE
from hmm_live.files import cache_dir
from hmm_live.live.answers import looped
from hmm_live.models.musicvae.model import slerp
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.realism import DRUM_CLASSES, Reference, halves, morph_smoothness, random_pitches, windows_of
from hmm_live.music.relatedness import drum_relatedness, notes_of, relatedness
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, num_bars, quantize, read_midi, slice_bars
from hmm_live.session import Session
from hmm_live.session.session import DEFAULTS
from hmm_live.shipped import DRUM_JAM
from hmm_live.training import extract
from hmm_live.training.evaluate import sample_labels

ROOT = Path(__file__).resolve().parents[1]
GROOVE = ROOT.parent / "shared" / "data" / "groove"
MODELS = {  # name -> (checkpoint, training sources as its card gives them)
    "melody": (ROOT / "checkpoints" / "mel_2bar_folk", ["oneills1850", "ryansMammoth", "airdsAirs"]),
    "drums": (ROOT / "checkpoints" / "drums_2bar_groove", [str(GROOVE)]),
}
TEMPERATURES = (0.5, 1.0)
MORPH_STEPS = 7  # 6 steps between neighbours
CLIPS = 16
LEADS = (0.0, 0.25, 0.5, 0.75, 1.0)
RELATEDNESS = ("pitch_class_cosine", "onset_jaccard", "same_tonic", "echo_f1")
ROLL_BARS = 6  # unseen drum bars in --drum-roll's picture


def realism(model: MusicVAE, reference: Reference, rng: np.random.Generator) -> dict[str, Any]:
    """Samples, baselines and ceiling, each scored against the same half of the held-out windows."""
    converter, n = model.data_converter, reference.size
    random_model = MusicVAE.create(
        model.config, model.z_size, model.spec.encoder_sizes, model.spec.decoder_sizes, seed=0
    )
    sets = {}
    for t in TEMPERATURES:
        sets[f"samples_t{t}"] = windows_of(converter, sample_labels(model, n, t, seed=1))
        sets[f"random_weights_t{t}"] = windows_of(converter, sample_labels(random_model, n, t, seed=1))
    real = windows_of(converter, reference.half)
    mu = model.encode([converter.from_labels(row) for row in reference.half])[1]
    sets["reconstructions"] = windows_of(converter, model.decode_labels(mu))  # the features' own sanity check
    if isinstance(converter, DrumsConverter):
        pitches = [classes[0] for classes in converter.pitch_classes]
    else:
        played = np.concatenate(real)[:, 0]
        pitches = list(range(played.min(), played.max() + 1))
    sets["random_pitches"] = random_pitches(real, pitches, rng)
    return {
        "windows_per_set": n,
        "reference_windows": len(reference.other),
        "ceiling": reference.ceiling,
        "sets": {name: reference.score(windows) for name, windows in sets.items()},
    }


def interpolation(model: MusicVAE, labels: np.ndarray, pairs: int, rng: np.random.Generator) -> dict[str, Any]:
    """6-step morphs between random pairs of held-out windows."""
    changes, shares = [], []
    for _ in range(pairs):
        a, b = (model.data_converter.from_labels(labels[i]) for i in rng.choice(len(labels), 2, replace=False))
        steps, share = morph_smoothness([notes_of(s) for s in model.interpolate(a, b, MORPH_STEPS)])
        changes.append(steps)
        if share is not None:
            shares.append(share)
    return {
        "pairs": pairs,
        "steps": MORPH_STEPS - 1,
        "notes_changed_per_step": float(np.mean(changes)),
        "notes_changed_per_morph": float(np.sum(changes, axis=1).mean()),
        "largest_step_share": float(np.mean(shares)),
        "largest_step_share_p90": float(np.percentile(shares, 90)),
        "morphs_without_change": pairs - len(shares),
    }


def passages(labels: np.ndarray) -> list[np.ndarray]:
    """Runs of windows that overlap by one bar, as bar labels [bars, 16]: consecutive bars of one tune."""
    runs, run = [], [labels[0]]
    for previous, window in pairwise(labels):
        if np.array_equal(previous[STEPS_PER_BAR:], window[:-STEPS_PER_BAR]):
            run.append(window)
        else:
            runs.append(run)
            run = [window]
    runs.append(run)
    return [np.concatenate([r[0].reshape(-1, STEPS_PER_BAR)] + [w[None, -STEPS_PER_BAR:] for w in r[1:]]) for r in runs]


def spread(items: list, n: int) -> list:
    """n items evenly spread over the list (its collections come one after another)."""
    return [items[i] for i in np.linspace(0, len(items) - 1, min(n, len(items))).round().astype(int)]


def jam_material(
    model: MusicVAE, labels: np.ndarray, bars_per_tune: int
) -> tuple[ClipLibrary, list[tuple[str, NoteSequence]]]:
    """16 clips (the first 2 bars of held-out tunes) and the bars to answer: later bars of
    those tunes ("clip_tunes") and bars of other held-out tunes ("other_tunes")."""
    to_sequence = model.data_converter.from_labels
    clip_bars = model.num_steps // STEPS_PER_BAR
    clip_half, other_half = halves(labels)
    tunes = [
        p
        for p in passages(clip_half)
        if len(p) >= clip_bars + 2 and len(to_sequence(p[:clip_bars].reshape(-1)).notes) >= 6
    ]
    tunes = spread(tunes, CLIPS)
    library = ClipLibrary(
        clip_bars, [(f"tune {i}", to_sequence(p[:clip_bars].reshape(-1))) for i, p in enumerate(tunes)]
    )
    others = spread([p for p in passages(other_half) if len(p) >= 2], CLIPS)
    bars = []
    for group, runs in (("clip_tunes", [p[clip_bars:] for p in tunes]), ("other_tunes", others)):
        for run in runs:
            played = [s for s in map(to_sequence, run) if s.notes][:bars_per_tune]
            bars += [(group, s) for s in played]
    return library, bars


def jam(model: MusicVAE, labels: np.ndarray, bars_per_tune: int, rng: np.random.Generator) -> dict[str, Any]:
    """A new user's session (default settings) on 16 clips, scored on bars it never trained on,
    for each way of answering and the two references."""
    library, bars = jam_material(model, labels, bars_per_tune)
    log(f"jam: a session on {len(library)} clips answers {len(bars)} bars")
    session = Session(model)
    session.clips = library
    start = time.perf_counter()
    session.train(background=False)
    out: dict[str, Any] = {
        "clips": len(library),
        "train_s": time.perf_counter() - start,
        "bars": {g: sum(1 for group, _ in bars if group == g) for g in ("clip_tunes", "other_tunes")},
        "default_settings": {"answers": DEFAULTS["answers"], "lead": DEFAULTS["lead"]},
    }
    settings = {
        "responder": {"answers": "responder"},
        **{f"listen_lead_{lead}": {"answers": "listen", "lead": lead} for lead in LEADS},
        "default": out["default_settings"],
    }
    out["modes"] = {}
    for name, s in settings.items():
        session.configure(**s)
        out["modes"][name] = score_answers(lambda bar, seed: session.answer(bar, seed=seed), bars)
    subspacer, responder, musicvae = session.subspacer, session.responder, session.musicvae
    low, high = subspacer.clip_mu.min(axis=0), subspacer.clip_mu.max(axis=0)

    def random_point(bar: NoteSequence, seed: int) -> NoteSequence:
        z = subspacer.decode(rng.uniform(low, high)[None])
        return musicvae.decode(z, length=STEPS_PER_BAR)[0]

    def spherical_blend(bar: NoteSequence, seed: int) -> NoteSequence:
        z_bar = musicvae.encode([looped(bar, musicvae.num_steps)])[1][0]
        z_map = subspacer.decode(responder.predict(bar))[0]
        return musicvae.decode(slerp(z_bar, z_map, 0.5)[None], length=STEPS_PER_BAR)[0]

    out["modes"] |= {
        "random_point": score_answers(random_point, bars),
        "spherical_blend_0.5": score_answers(spherical_blend, bars),
    }
    return out


def timed_answers(
    answer: Callable[[NoteSequence, int], NoteSequence], bars: list[NoteSequence]
) -> tuple[list[NoteSequence], list[float]]:
    """Each bar's answer (seeded by its place) and the seconds it took, after one call that traces
    any graph the mode needs."""
    answer(bars[0], 0)
    replies, seconds = [], []
    for seed, bar in enumerate(bars):
        start = time.perf_counter()
        replies.append(answer(bar, seed))
        seconds.append(time.perf_counter() - start)
    return replies, seconds


def score_answers(answer: Callable[[NoteSequence, int], NoteSequence], bars) -> dict[str, Any]:
    """Mean relatedness per group of bars and overall, and the bar -> answer time."""
    replies, seconds = timed_answers(answer, [bar for _, bar in bars])
    rows = [(group, relatedness(bar, reply), len(reply.notes) == 0) for (group, bar), reply in zip(bars, replies)]
    out: dict[str, Any] = {}
    for group in ("all", "clip_tunes", "other_tunes"):
        picked = [r for g, r, _ in rows if group in ("all", g)]
        out[group] = {k: float(np.mean([r[k] for r in picked])) for k in RELATEDNESS}
    out["silent_answers"] = sum(silent for *_, silent in rows)
    out["bar_to_answer"] = stats_ms(seconds)
    return out


def drum_jam(quick: bool, rng: np.random.Generator, roll: Path | None = None) -> dict[str, Any]:
    """The drum jam as `hmm-live jam --drums` starts it (the shipped drum model, a session with default
    settings on the shipped Groove clips), in 2 and 4 dimensions, answering the shipped unseen bars
    (Groove test recordings): for each way of answering, a random point of the map (the baseline) and
    the drummer's own next bar (a human reference), the drum relatedness and the bar -> answer time."""
    model = MusicVAE.load(DRUM_JAM.model)
    clips = ClipLibrary.from_midi(DRUM_JAM.clips)
    unseen = quantize(read_midi(DRUM_JAM.unseen))
    runs = [[slice_bars(unseen, r + b, 1) for b in range(4)] for r in range(0, num_bars(unseen), 4)]
    pairs = [(run[b], run[b + 1]) for run in runs for b in range(1 if quick else 3)]  # (played, what came next)
    shown = pairs[:: max(1, len(pairs) // ROLL_BARS)][:ROLL_BARS]  # one bar of several recordings
    out: dict[str, Any] = {"clips": len(clips), "bars": len(pairs), "recordings": len(runs)}
    columns: dict[str, list[NoteSequence]] = {"played": [bar for bar, _ in shown]}
    for dims in (2, 4):
        log(f"drum jam: a {dims}-D session on {len(clips)} clips answers {len(pairs)} unseen bars")
        session = Session(model, clips=clips, latent_dims=dims)
        start = time.perf_counter()
        session.train(background=False)
        out[f"dims_{dims}"] = {"train_s": time.perf_counter() - start, "modes": drum_modes(session, pairs, rng)}
        session.configure(answers=DEFAULTS["answers"], lead=DEFAULTS["lead"])
        columns[f"{dims}-D answer"] = [session.answer(bar, seed=i) for i, (bar, _) in enumerate(shown)]
    if roll is not None:
        columns["the drummer's next bar"] = [after for _, after in shown]
        drum_rolls(roll, columns, model.data_converter.class_of)
        log(f"wrote {roll}")
    return out


def drum_modes(
    session: Session, pairs: list[tuple[NoteSequence, NoteSequence]], rng: np.random.Generator
) -> dict[str, Any]:
    """A trained drum session's answers scored for each way of answering, and the two references."""
    modes = {}
    for name, settings in {
        "default": {"answers": DEFAULTS["answers"], "lead": DEFAULTS["lead"]},
        "listen_lead_0.0": {"answers": "listen", "lead": 0.0},
        "responder": {"answers": "responder"},
    }.items():
        session.configure(**settings)
        modes[name] = score_drum_answers(lambda bar, seed: session.answer(bar, seed=seed), pairs, session.musicvae)
    subspacer, musicvae = session.subspacer, session.musicvae
    low, high = subspacer.clip_mu.min(axis=0), subspacer.clip_mu.max(axis=0)

    def random_point(bar: NoteSequence, seed: int) -> NoteSequence:
        return musicvae.decode(subspacer.decode(rng.uniform(low, high)[None]), length=STEPS_PER_BAR)[0]

    nexts = {id(bar): after for bar, after in pairs}
    modes["random_point"] = score_drum_answers(random_point, pairs, musicvae)
    modes["drummers_next_bar"] = score_drum_answers(lambda bar, seed: nexts[id(bar)], pairs, musicvae)
    return modes


def drum_rolls(path: Path, columns: dict[str, list[NoteSequence]], class_of: dict[int, int]) -> None:
    """A PNG of drum bars side by side (a row per bar played, a column per source), as 9-class rolls
    with the velocity as the shade: what the numbers average, to look at."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = len(next(iter(columns.values())))
    fig, axes = plt.subplots(rows, len(columns), figsize=(3.2 * len(columns), 1.3 * rows), squeeze=False)
    for c, (title, bars) in enumerate(columns.items()):
        for r, bar in enumerate(bars):
            grid = np.zeros((len(DRUM_CLASSES), STEPS_PER_BAR))
            for n in bar.notes:
                if n.pitch in class_of and n.quantized_start_step < STEPS_PER_BAR:
                    cell = (class_of[n.pitch], n.quantized_start_step)
                    grid[cell] = max(grid[cell], n.velocity / 127)
            ax = axes[r, c]
            ax.imshow(grid, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=1)
            ax.set_xticks(range(0, STEPS_PER_BAR, 4))
            ax.set_yticks(range(len(DRUM_CLASSES)), DRUM_CLASSES if c == 0 else [], fontsize=6)
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def score_drum_answers(
    answer: Callable[[NoteSequence, int], NoteSequence], pairs: list[tuple[NoteSequence, NoteSequence]], model: MusicVAE
) -> dict[str, Any]:
    """Mean drum relatedness of the answers to the bars played, |hits difference| too, and the time."""
    class_of = model.data_converter.class_of
    replies, seconds = timed_answers(answer, [bar for bar, _ in pairs])
    rows = [drum_relatedness(bar, reply, class_of) for (bar, _), reply in zip(pairs, replies)]
    out: dict[str, Any] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    out["abs_hits_difference"] = float(np.mean([abs(r["hits_difference"]) for r in rows]))
    out["bar_to_answer"] = stats_ms(seconds)
    return out


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The music targets (docs/benchmarks.md): melody realism at 0.5, drum hits and kicks at 0.5, morphs, the default jam."""
    melody = report["melody"]
    default = melody["jam"]["modes"]["default"]
    rows = [
        target(
            "melody.samples_t0.5.min_ratio_to_ceiling",
            melody["realism"]["sets"]["samples_t0.5"]["min_ratio_to_ceiling"],
            ">=",
            0.7,
        ),
        target("melody.interpolation.largest_step_share", melody["interpolation"]["largest_step_share"], "<=", 0.35),
        target("jam.default.pitch_class_cosine", default["all"]["pitch_class_cosine"], ">=", 0.75),
        target("jam.default.onset_jaccard", default["all"]["onset_jaccard"], ">=", 0.7),
        target("jam.default.same_tonic", default["all"]["same_tonic"], ">=", 0.7),
        target("jam.default.echo_f1", default["all"]["echo_f1"], "<=", 0.5),
        target("jam.default.bar_to_answer_p99_ms", default["bar_to_answer"]["p99_ms"], "<=", 20.0),
    ]
    if "realism" in report["drums"]:
        drums = report["drums"]["realism"]["sets"]["samples_t0.5"]
        rows += [
            target("drums.samples_t0.5.hits_per_bar_overlap", drums["similarity"]["hits_per_bar"], ">=", 0.8),
            target(
                "drums.samples_t0.5.kick_on_downbeats_difference",
                abs(drums["rates"]["kick_on_downbeats"]["difference"]),
                "<=",
                0.1,
            ),
        ]
    return rows


def held_out(model: MusicVAE, name: str, sources: list[str], windows: Path | None) -> np.ndarray:
    """The test split's windows: from `windows` (checked to be this model's encoding) or extracted."""
    if windows is None:
        return extract(sources, model.data_converter, cache_dir("examples"))[0]["test"]
    with np.load(windows, allow_pickle=False) as saved:
        if str(saved[f"{name}.converter"]) != json.dumps(model.data_converter.spec(), sort_keys=True):
            sys.exit(f"{windows} holds {name}'s windows for another data converter: run tests/data/make_heldout.py")
        return saved[name]


def main() -> None:
    parser = arguments(__doc__, "fewer windows, morphs and bars (CI)")
    parser.add_argument("--windows", type=Path, help="the held-out windows from this .npz (tests/data/make_heldout.py)")
    parser.add_argument("--drum-roll", type=Path, help="also write a PNG of unseen drum bars and their answers")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    report: dict[str, Any] = {"quick": args.quick}
    for kind, (checkpoint, sources) in MODELS.items():
        if kind == "drums" and not GROOVE.exists() and not args.windows:
            report[kind] = {"skipped": f"the Groove MIDI Dataset is not at {GROOVE} (../shared is absent)"}
            continue
        model = MusicVAE.load(checkpoint)
        log(f"{kind}: held-out windows of {', '.join(sources)}")
        labels = held_out(model, checkpoint.name, sources, args.windows)
        result = report[kind] = {"model": checkpoint.name, "sources": sources, "held_out_windows": len(labels)}
        log(f"{kind}: realism")
        sample = labels[::5] if args.quick else labels  # every 5th window keeps the collections' mix
        result["realism"] = realism(model, Reference(model.data_converter, sample), rng)
        log(f"{kind}: interpolation")
        result["interpolation"] = interpolation(model, labels, 10 if args.quick else 100, rng)
        if kind == "melody":
            result["jam"] = jam(model, labels, 1 if args.quick else 8, rng)
    log("drum jam (the shipped clips and unseen bars)")
    report["drum_jam"] = drum_jam(args.quick, rng, args.drum_roll)
    report["targets"] = targets(report)
    emit(report, args.out)


if __name__ == "__main__":
    main()
