"""Magenta's MusicVAE config names: which data converter and structure each implies.

Original TF checkpoints carry no config, so `MusicVAE.load(..., config=NAME)`
needs the name; layer sizes are read off the variable shapes. magenta-js
folders carry the same facts in their config.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hmm_live.errors import ConfigError, UnsupportedModelError


@dataclass(frozen=True)
class HParams:
    """Magenta's sizes and training hyperparameters (lstm_models / base_model defaults)."""

    z_size: int = 256
    encoder_sizes: tuple[int, ...] = (512,)
    decoder_sizes: tuple[int, ...] = (256, 256)
    batch_size: int = 512
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999  # per step, down to min_learning_rate
    min_learning_rate: float = 1e-5
    free_bits: float = 0.0  # KL bits per example not penalised
    max_beta: float = 1.0  # KL weight, annealed as max_beta * (1 - beta_rate ** step)
    beta_rate: float = 0.0
    sampling_rate: float = 0.0  # inverse-sigmoid scheduled sampling rate; 0 = teacher forcing
    grad_clip: float = 1.0  # global norm
    transpose: tuple[int, int] = (0, 0)  # melody augmentation range in semitones
    nade_num_hidden: int = 0  # hidden units of a NADE decoder


@dataclass(frozen=True)
class Config:
    name: str
    data_converter: dict[str, Any]  # magenta-js dataConverter spec
    chord_encoder: str | None = None
    hparams: HParams = HParams()
    conductor: bool = False  # hierarchical decoder; its conductor has the decoder's sizes, as in Magenta
    hierarchical_encoder: bool = False  # one bidirectional level per bar, then one over the bars
    notes: str = field(default="", compare=False)

    def js_config(self) -> dict[str, Any]:
        """The magenta-js config.json for this config."""
        out = {"type": "MusicVAE", "dataConverter": self.data_converter}
        if self.chord_encoder:
            out["chordEncoder"] = self.chord_encoder
        return out


def _melody(bars: int, segments: bool = False) -> dict[str, Any]:
    args = {"numSteps": 16 * bars, "minPitch": 21, "maxPitch": 108}
    if segments:
        args["numSegments"] = bars
    return {"type": "MelodyConverter", "args": args}


_DRUMS_2BAR = {"type": "DrumsConverter", "args": {"numSteps": 32}}
_TRIO_16BAR = {
    "type": "TrioConverter",
    "args": {
        "numSteps": 256,
        "numSegments": 16,
        "melArgs": {"minPitch": 21, "maxPitch": 108},
        "bassArgs": {"minPitch": 21, "maxPitch": 108},
        "drumsArgs": {},
    },
}
_TRIO: dict[str, Any] = {
    "batch_size": 256,
    "z_size": 512,
    "decoder_sizes": (1024, 1024),
    "free_bits": 256,
    "max_beta": 0.2,
}


def _groove(bars: int, **flags: bool) -> dict[str, Any]:
    """Python Magenta's GrooVAE converters at inference: note_seq's drum table (the converter's default)."""
    return {"type": "GrooveConverter", "args": {"numSteps": 16 * bars, **flags}}


_ANNEALED: dict[str, Any] = {"max_beta": 0.2, "beta_rate": 0.99999, "sampling_rate": 1000.0}
_BIG: dict[str, Any] = {"z_size": 512, "encoder_sizes": (2048,), "decoder_sizes": (2048, 2048, 2048)}
# Magenta's 16-bar melody sizes; hier-mel_16bar's encoder_sizes hold one size per level
_16BAR: dict[str, Any] = {
    "z_size": 512,
    "encoder_sizes": (2048, 2048),
    "decoder_sizes": (1024, 1024),
    "free_bits": 256,
    "max_beta": 0.2,
}

# Magenta's MultiInstrumentPerformanceConverter: 8 tracks of 64 tokens, 1 bar at 24 steps per quarter
_MULTITRACK = {
    "type": "MultitrackConverter",
    "args": {
        "numSteps": 512,
        "numSegments": 8,
        "stepsPerQuarter": 24,
        "totalSteps": 96,
        "numVelocityBins": 8,
        "minPitch": 0,
        "maxPitch": 127,
    },
}
_MULTIPERF: dict[str, Any] = {"batch_size": 256, "z_size": 512, "transpose": (-3, 3)}
_MULTIPERF_MED: dict[str, Any] = {**_MULTIPERF, "encoder_sizes": (1024, 1024), "decoder_sizes": (512, 512, 512)}
_MULTIPERF_BIG: dict[str, Any] = {**_MULTIPERF, "encoder_sizes": (2048, 2048), "decoder_sizes": (1024, 1024, 1024)}

_GROOVAE = HParams(free_bits=48, max_beta=0.2)  # z 256, encoder [512], decoder [256, 256]: the defaults

CONFIGS: dict[str, Config] = {
    c.name: c
    for c in [
        Config("cat-mel_2bar_small", _melody(2), hparams=HParams(**_ANNEALED, transpose=(-5, 5))),
        Config(
            "cat-mel_2bar_big", _melody(2), hparams=HParams(**{**_ANNEALED, "max_beta": 0.5}, **_BIG, transpose=(-5, 5))
        ),
        Config(
            "cat-mel_2bar_med_chords",
            _melody(2),
            chord_encoder="TriadChordEncoder",
            hparams=HParams(encoder_sizes=(1024,), decoder_sizes=(512, 512, 512), transpose=(-3, 3)),
        ),
        Config("cat-drums_2bar_small", _DRUMS_2BAR, hparams=HParams(free_bits=48, max_beta=0.2, sampling_rate=1000.0)),
        Config(
            "cat-drums_2bar_big", _DRUMS_2BAR, hparams=HParams(free_bits=48, max_beta=0.2, sampling_rate=1000.0, **_BIG)
        ),
        Config(
            "nade-drums_2bar_reduced",
            {"type": "DrumRollConverter", "args": {"numSteps": 32}},
            hparams=HParams(
                encoder_sizes=(1024,),
                decoder_sizes=(512, 512),
                nade_num_hidden=128,
                free_bits=48,
                max_beta=0.2,
                sampling_rate=1000.0,
            ),
        ),
        Config(
            "hierdec-trio_16bar",
            _TRIO_16BAR,
            hparams=HParams(**_TRIO, encoder_sizes=(2048, 2048)),
            conductor=True,
        ),
        Config(
            "hier-trio_16bar",
            _TRIO_16BAR,
            hparams=HParams(**_TRIO, encoder_sizes=(1024, 1024)),
            conductor=True,
            hierarchical_encoder=True,
        ),
        Config("flat-mel_16bar", _melody(16), hparams=HParams(**{**_16BAR, "decoder_sizes": (2048, 2048, 2048)})),
        Config("hierdec-mel_16bar", _melody(16, segments=True), hparams=HParams(**_16BAR), conductor=True),
        Config(
            "hier-mel_16bar",
            _melody(16, segments=True),
            hparams=HParams(**{**_16BAR, "encoder_sizes": (1024, 1024)}),
            conductor=True,
            hierarchical_encoder=True,
        ),
        *(
            Config(
                f"hier-multiperf_vel_1bar_{size}{suffix}",
                _MULTITRACK,
                chord_encoder="TriadChordEncoder" if suffix else None,
                hparams=HParams(**hparams),
                conductor=True,
                hierarchical_encoder=True,
            )
            for size, hparams in (("med", _MULTIPERF_MED), ("big", _MULTIPERF_BIG))
            for suffix in ("", "_chords")
        ),
        Config("groovae_4bar", _groove(4), hparams=_GROOVAE),
        Config("groovae_2bar_humanize", _groove(2, humanize=True), hparams=_GROOVAE),
        Config("groovae_2bar_tap_fixed_velocity", _groove(2, tapify=True), hparams=_GROOVAE),
        # hmm_live's 1-bar twins (the drummer's bar; Magenta publishes tap2drum_1bar, not its config)
        Config("groovae_1bar_humanize", _groove(1, humanize=True), hparams=_GROOVAE),
        Config("groovae_1bar_tap_fixed_velocity", _groove(1, tapify=True), hparams=_GROOVAE),
        Config(  # note dropout thins the inputs in training only
            "groovae_2bar_tap_fixed_velocity_note_dropout", _groove(2, tapify=True), hparams=_GROOVAE
        ),
    ]
}

UNSUPPORTED = {
    "nade-drums_2bar_full": "61-class NADE drum (hmm_live holds at most 12 drum classes)",
    "flat-trio_16bar": "trio (one decoder for all three instruments, which magenta-js cannot load either)",
    "groovae_2bar_add_closed_hh": "GrooVAE with drums removed from its input (add_instruments)",
    "groovae_2bar_hits_control_tfds": "GrooVAE with hits as controls",
}


def get_config(name: str) -> Config:
    if name in CONFIGS:
        return CONFIGS[name]
    if name in UNSUPPORTED:
        raise UnsupportedModelError(f"config {name!r} is a {UNSUPPORTED[name]} model, which hmm_live does not support")
    raise ConfigError(f"unknown MusicVAE config {name!r}; known: {', '.join(sorted(CONFIGS))}")
