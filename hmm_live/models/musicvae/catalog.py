"""magenta-js's published MusicVAE checkpoints by name: what each is, where it lives, whether it is here.

The names, folders and sizes are magenta-js's checkpoint list
(music/checkpoints/checkpoints.json in its repository; `size_mb` is its
figure). They download from HMM_LIVE_CHECKPOINT_URL (a mirror; the tests'
loopback server), else Magenta's bucket, into the cache (HMM_LIVE_CACHE).
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from hmm_live.errors import CheckpointError
from hmm_live.files import cache_dir
from hmm_live.models.musicvae.download import complete, download

BASE_URL = "https://storage.googleapis.com/magentadata/js/checkpoints"
URL_VARIABLE = "HMM_LIVE_CHECKPOINT_URL"


@dataclass(frozen=True)
class Published:
    """One published checkpoint."""

    name: str
    family: str  # what it models: melody, drums, trio...
    bars: int
    size_mb: float
    description: str
    folder: str = ""  # its folder under the base URL, where not music_vae/NAME

    @property
    def path(self) -> str:
        return self.folder or f"music_vae/{self.name}"


def _free_bits(kind: str, family: str, description: str) -> list[Published]:
    return [
        Published(
            f"{kind}_fb{fb}",
            family,
            2,
            11.0 if "multicontrol" in kind else 6.0,
            f"{description}; {fb} free bits",
            folder=f"music_vae/mel_multicontrol/{kind}_fb{fb}",
        )
        for fb in (0, 8, 16, 32)
    ]


PUBLISHED: dict[str, Published] = {
    p.name: p
    for p in [
        Published("mel_2bar_small", "melody", 2, 17.7, "small"),
        Published("mel_4bar_small_q2", "melody", 4, 26.5, "small; 2-byte weights"),
        Published("mel_4bar_med_q2", "melody", 4, 65.4, "medium; 2-byte weights"),
        Published("mel_4bar_med_lokl_q2", "melody", 4, 65.4, "medium, strong prior (for sampling); 2-byte weights"),
        Published("mel_16bar_small_q2", "melody", 16, 23.5, "small, 16-step conductor; 2-byte weights"),
        Published("mel_chords", "melody on chords", 2, 17.6, "chord-conditioned; 2-byte weights"),
        Published("drums_2bar_lokl_small", "drums", 2, 18.5, "9 classes, small, strong prior (for sampling)"),
        Published("drums_2bar_hikl_small", "drums", 2, 18.5, "9 classes, small, weak prior (for reconstruction)"),
        Published("drums_4bar_med_q2", "drums", 4, 68.2, "medium, weak prior (for reconstruction); 2-byte weights"),
        Published("drums_4bar_med_lokl_q2", "drums", 4, 68.2, "medium, strong prior (for sampling); 2-byte weights"),
        Published("drums_2bar_nade_9_q2", "drums", 2, 27.6, "9-class multi-label NADE; 2-byte weights"),
        Published(
            "trio_4bar_lokl_small_q1",
            "trio",
            4,
            17.6,
            "melody, bass, drums; small, strong prior; 1-byte weights",
            "music_vae/trio_4bar",
        ),
        Published("trio_16bar_xl", "trio", 16, 1710.0, "melody, bass, drums; very large", "music_vae/trio_16bar"),
        Published("multitrack", "multitrack", 1, 26.4, "64 free bits; 1-byte weights"),
        Published("multitrack_med", "multitrack", 1, 95.9, "medium, 64 free bits; 1-byte weights"),
        Published("multitrack_med_fb256", "multitrack", 1, 95.9, "medium, 256 free bits; 1-byte weights"),
        Published("multitrack_chords", "multitrack on chords", 1, 26.9, "chord-conditioned; 1-byte weights"),
        Published(
            "multitrack_med_chords", "multitrack on chords", 1, 96.9, "medium, chord-conditioned; 1-byte weights"
        ),
        Published(
            "multitrack_med_chords_fb256",
            "multitrack on chords",
            1,
            96.9,
            "medium, chord-conditioned, 256 free bits; 1-byte weights",
        ),
        Published("groovae_2bar_humanize", "GrooVAE", 2, 15.8, "humanises a quantised drum pattern"),
        Published("groovae_4bar", "GrooVAE", 4, 15.8, "drum performance autoencoder"),
        *(
            Published(
                f"tap2drum_{bars}bar",
                "GrooVAE",
                bars,
                15.6,
                "a tapped rhythm to a drum groove",
                folder=f"groovae/tap2drum_{bars}bar",
            )
            for bars in (1, 2, 3, 4)
        ),
        *_free_bits(
            "mel_2bar_multicontrol_tiny",
            "melody on controls",
            "conditioned on chord, rhythm, shape and register; tiny",
        ),
        *_free_bits("mel_rhythm_2bar_tiny", "melody rhythm", "tiny"),
        *_free_bits("mel_shape_2bar_tiny", "melody shape", "tiny"),
    ]
}


def base_url() -> str:
    """Where the published folders are: HMM_LIVE_CHECKPOINT_URL, else Magenta's bucket."""
    return (os.environ.get(URL_VARIABLE) or BASE_URL).rstrip("/")


def url(name: str) -> str:
    return f"{base_url()}/{published(name).path}"


def published(name: str) -> Published:
    if name not in PUBLISHED:
        raise CheckpointError(f"no published MusicVAE is named {name!r}; `hmm-live models` lists them")
    return PUBLISHED[name]


def cache() -> Path:
    """The folder of downloaded checkpoints (under HMM_LIVE_CACHE, if set)."""
    return cache_dir("musicvae")


def folder(name_or_url: str) -> Path:
    """The cache folder of a published name, or of a checkpoint URL (its last part and a digest)."""
    if name_or_url in PUBLISHED:
        return cache() / name_or_url
    last = urllib.parse.urlsplit(name_or_url).path.rstrip("/").rsplit("/", 1)[-1] or "checkpoint"
    digest = hashlib.sha256(name_or_url.rstrip("/").encode()).hexdigest()[:12]
    return cache() / "urls" / f"{last}-{digest}"


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def cached(name_or_url: str) -> bool:
    return complete(folder(name_or_url))


def fetch(name_or_url: str, progress: bool = True) -> Path:
    """The cached folder of a published name or a checkpoint URL, downloaded first if need be."""
    target_url = name_or_url if is_url(name_or_url) else url(name_or_url)
    target = folder(name_or_url)
    if complete(target):
        return target
    return download(target_url, target, progress)


def locate(checkpoint: str | os.PathLike, progress: bool = True) -> Path:
    """What `MusicVAE.load` reads: an existing path as it is; a published name or an
    http(s) URL as its cache folder (fetched first if need be); any other path as it is."""
    if isinstance(checkpoint, str) and (
        is_url(checkpoint) or (checkpoint in PUBLISHED and not Path(checkpoint).exists())
    ):
        return fetch(checkpoint, progress)
    return Path(checkpoint)
