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
class Config:
    name: str
    data_converter: dict[str, Any]  # magenta-js dataConverter spec
    chord_encoder: str | None = None
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

CONFIGS: dict[str, Config] = {c.name: c for c in [
    Config("cat-mel_2bar_small", _melody(2)),
    Config("cat-mel_2bar_big", _melody(2)),
    Config("cat-mel_2bar_med_chords", _melody(2), chord_encoder="TriadChordEncoder"),
    Config("cat-drums_2bar_small", _DRUMS_2BAR),
    Config("cat-drums_2bar_big", _DRUMS_2BAR),
    Config("flat-mel_16bar", _melody(16)),
    Config("hierdec-mel_16bar", _melody(16, segments=True)),
    Config("hier-mel_16bar", _melody(16, segments=True)),
]}

UNSUPPORTED = {
    "nade-drums_2bar_reduced": "NADE decoder",
    "nade-drums_2bar_full": "NADE decoder",
    "flat-trio_16bar": "trio (multi-output decoder)",
    "hierdec-trio_16bar": "trio (multi-output decoder)",
    "hier-trio_16bar": "trio (multi-output decoder)",
    "hier-multiperf_vel_1bar_med": "multitrack performance",
    "hier-multiperf_vel_1bar_big": "multitrack performance",
    "hier-multiperf_vel_1bar_med_chords": "multitrack performance",
    "hier-multiperf_vel_1bar_big_chords": "multitrack performance",
}


def get_config(name: str) -> Config:
    if name in CONFIGS:
        return CONFIGS[name]
    if name in UNSUPPORTED or name.startswith("groovae"):
        what = UNSUPPORTED.get(name, "GrooVAE")
        raise UnsupportedModelError(f"config {name!r} is a {what} model, which hmm_live does not support")
    raise ConfigError(f"unknown MusicVAE config {name!r}; known: {', '.join(sorted(CONFIGS))}")
