"""The drummer in the jam: GrooVAE's performances (velocities, micro-timing) made from one bar.

- tap2drum: each bar the performer closes, on any instrument, is read as taps
  (its onsets, with the timing they were played at) and becomes one bar of
  drums for the next bar, beside the melodic answer;
- humanize: a quantised drum answer becomes a performance before it is played.

Both are one encode and one decode of one bar (`Performer`): the bar looped to
fill the model's window, with the timing it was played at (1 bar for
`tap2drum_1bar`, 2 for `tap2drum_2bar`...), encoded, and its mean decoded
greedily for one bar. The model's converter decides what it hears (`tapify`,
`humanize`: hmm_live/music/groove.py).
"""

from __future__ import annotations

from pathlib import Path

from hmm_live.errors import ConfigError
from hmm_live.live.answers import looped
from hmm_live.models import MusicVAE
from hmm_live.models.musicvae import catalog
from hmm_live.music.groove import GrooveConverter
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes

MAX_EARLY = 0.5  # steps: a GrooVAE onset is at most half a step before its step (GrooveConverter clips the offset)
TAP2DRUM, HUMANIZE = "tap2drum", "humanize"  # the two jobs, by the converter flag each model needs
EXAMPLES = {TAP2DRUM: "tap2drum_1bar", HUMANIZE: "groovae_2bar_humanize"}
WARM_UP_BAR = [(36, 0, 1), (42, 2, 3), (38, 4, 6)]  # performed once by each Performer, before any live bar


def load(ref: str | Path, job: str, progress: bool = True) -> MusicVAE:
    """A published name (downloaded into the cache on first use), a URL or a folder -> the GrooVAE for
    `job`; a ConfigError naming `ref` when it is none of these or holds another kind of model."""
    check_ref(ref, job)
    return check_groove(MusicVAE.load(ref, progress=progress), job, f"the {job} model {str(ref)!r}")


def check_ref(ref: str | Path, job: str) -> None:
    """A ConfigError naming `ref` unless it is a published name, a URL or an existing path (before any loading)."""
    if isinstance(ref, str) and not (ref in catalog.PUBLISHED or catalog.is_url(ref) or Path(ref).exists()):
        raise ConfigError(
            f"the {job} model {ref!r} is neither a published name (`hmm-live models` lists them, "
            f"e.g. {EXAMPLES[job]}) nor a folder"
        )


def check_groove(model: MusicVAE, job: str, source: object = "the model") -> MusicVAE:
    """`model` if it is a GrooVAE for `job` (tap2drum: `tapify`; humanize: `humanize`), else a
    ConfigError naming `source` and what it is instead."""
    converter = model.data_converter
    flag = "tapify" if job == TAP2DRUM else "humanize"
    if not isinstance(converter, GrooveConverter) or not getattr(converter, flag):
        what = f"a GrooVAE ({converter.spec()['args']})" if isinstance(converter, GrooveConverter) else repr(model)
        raise ConfigError(
            f"{source} is not a {job} model: it must be a GrooVAE whose converter has {flag} "
            f"(e.g. {EXAMPLES[job]}), got {what}"
        )
    return model


class Performer:
    """A GrooVAE ready for live bars: its encode and greedy decode of one bar made once into a
    TFLite interpreter (`MusicVAE.reconstructor`: a few ms a bar, no TensorFlow executor beside
    the answer's), then a short bar performed, so a model that cannot perform fails here, not
    live. It holds the weights as they are now: a model changed later needs a new Performer."""

    def __init__(self, model: MusicVAE):
        converter = model.data_converter
        if not isinstance(converter, GrooveConverter):
            raise ConfigError(f"{model!r} is not a GrooVAE: it writes no performance")
        self.model, self.converter = model, converter
        self._labels = model.reconstructor(STEPS_PER_BAR)
        self(from_notes(WARM_UP_BAR, STEPS_PER_BAR), 120.0)

    def __call__(self, bar: NoteSequence, qpm: float) -> NoteSequence:
        """One bar (16 quantised steps, note times as played) -> one bar of drums as performed at
        `qpm`: unquantised drum notes, velocities 1..127 (a hit is never a MIDI note-off), onsets
        off the grid, the first step's up to MAX_EARLY steps before 0."""
        # a drum answer's notes are not is_drum: looped as drums, so the converter reads them all
        inputs = self.converter.to_inputs(looped(bar, self.model.num_steps, is_drum=True))
        drums = self.converter.from_labels(self._labels(inputs), qpm)  # mu decoded greedily: one call
        for n in drums.notes:
            n.velocity = max(1, n.velocity)
        return drums
