"""The session folder: what a performer's session keeps on disk.

    session.json   format, settings, the MusicVAE reference, the clip list
    clips/         one MIDI file per clip (they open in any DAW)
    subspacer/     the trained Subspacer (model.json + weights.npz), if any
    responder/     the trained Responder, if any
    musicvae/      only in exports: the MusicVAE itself, so the folder travels

The whole folder is written to a temp folder and swapped in, so a crash
never leaves half a session; a folder that fails to load is never written over.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from hmm_live.errors import HmmLiveError
from hmm_live.files import atomic_folder
from hmm_live.models import MusicVAE, Responder, Subspacer
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import quantize, read_midi, write_midi
from hmm_live.shipped import CHECKPOINTS

FORMAT = 1
INDEX = "session.json"


class SessionError(HmmLiveError):
    """A session folder cannot be read (missing, half-written, from another version)."""


@dataclass
class Contents:
    """Everything a session folder holds, loaded."""
    musicvae: MusicVAE
    musicvae_ref: str
    settings: dict
    clips: ClipLibrary
    training_clips: list[str] | None
    subspacer: Subspacer | None
    responder: Responder | None


def model_ref(path: str | Path) -> str:
    """How a session names its MusicVAE: shipped models by name, others by absolute path."""
    path = Path(path).resolve()
    return path.name if path.parent == CHECKPOINTS else str(path)


def write(folder: str | Path, c: Contents, include_musicvae: bool = False) -> Path:
    """Write a session folder atomically; with `include_musicvae` it is self-contained (an export)."""
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        ref = c.musicvae_ref
        if include_musicvae:
            c.musicvae.save(tmp / "musicvae")
            ref = "musicvae"
        files = []
        for i, clip in enumerate(c.clips):
            files.append({"name": clip.name, "file": f"clips/{i + 1:04d}.mid"})
            write_midi(clip.sequence, tmp / files[-1]["file"])
        for name, model in (("subspacer", c.subspacer), ("responder", c.responder)):
            if model is not None and model.trained:
                model.save(tmp / name)
        index = {"format": FORMAT, "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "musicvae": {"ref": ref, "identity": c.musicvae.identity()},
                 "settings": c.settings, "bars": c.clips.bars, "clips": files,
                 "training_clips": c.training_clips}
        (tmp / INDEX).write_text(json.dumps(index, indent=1))
    return folder


def read(folder: str | Path, musicvae: MusicVAE | None = None) -> Contents:
    """Load a session folder; any problem raises SessionError naming the file at fault."""
    folder = Path(folder)
    index = _index(folder)
    ref = index["musicvae"]["ref"]
    if musicvae is None or musicvae.identity() != index["musicvae"]["identity"]:
        musicvae = _load_musicvae(folder, ref)
    if musicvae.identity() != index["musicvae"]["identity"]:
        raise SessionError(f"{folder / INDEX}: the MusicVAE at {ref} has changed since this session was "
                           f"saved; its subspace no longer fits it")
    clips = ClipLibrary(index["bars"])
    try:
        for entry in index["clips"]:
            clips.add(entry["name"], quantize(read_midi(folder / entry["file"])))
        subspacer = Subspacer.load(folder / "subspacer", musicvae) if (folder / "subspacer").exists() else None
        responder = (Responder.load(folder / "responder", subspacer)
                     if subspacer is not None and (folder / "responder").exists() else None)
    except (HmmLiveError, KeyError, TypeError) as e:
        raise SessionError(f"session {folder} is damaged: {e}") from None
    return Contents(musicvae, ref, dict(index.get("settings") or {}), clips, index.get("training_clips"),
                    subspacer, responder)


def _index(folder: Path) -> dict:
    path = folder / INDEX
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        raise SessionError(f"{folder} is not a session folder: {INDEX} is missing") from None
    except (OSError, ValueError) as e:
        raise SessionError(f"{path} is damaged ({e})") from None
    if not isinstance(index, dict) or "format" not in index:
        raise SessionError(f"{path} is not an hmm_live session index")
    if index["format"] != FORMAT:
        age = "a newer" if isinstance(index["format"], int) and index["format"] > FORMAT else "an older"
        raise SessionError(f"{path} is from {age} hmm_live (session format {index['format']!r}; this one reads "
                           f"format {FORMAT}): open it with that version, or start a new session")
    missing = [k for k in ("musicvae", "bars", "clips") if k not in index]
    if missing or not isinstance(index["musicvae"], dict) or "ref" not in index["musicvae"]:
        raise SessionError(f"{path} lacks {', '.join(missing) or 'the MusicVAE reference'}: it is half-written")
    return index


def _load_musicvae(folder: Path, ref: str) -> MusicVAE:
    """A relative reference is looked up in the session folder, then among the shipped models."""
    candidates = [Path(ref)] if Path(ref).is_absolute() else [folder / ref, CHECKPOINTS / ref]
    for path in candidates:
        if path.exists():
            try:
                return MusicVAE.load(path)
            except HmmLiveError as e:
                raise SessionError(f"session {folder}: its MusicVAE {path} cannot be loaded: {e}") from None
    raise SessionError(f"session {folder}: its MusicVAE {ref!r} is not at {' or '.join(map(str, candidates))}")
