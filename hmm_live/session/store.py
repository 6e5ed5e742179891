"""The session folder: what a performer's session keeps on disk.

    session.json   format, settings, the MusicVAE reference, the clip list
    clips/         one MIDI file per clip (they open in any DAW)
    subspacer/     the trained Subspacer (model.json + weights.npz), if any
    responder/     the trained Responder, if any
    musicvae/      only in exports: the MusicVAE itself, so the folder travels

The whole folder is written to a temp folder and swapped in (`atomic_folder`):
killed at any instant, a save leaves the last complete folder or the one
before, which `recover` puts back in place; a folder that fails to load is
never written over. Reading checks every field's type and bounds before
anything is loaded, so damaged or hostile files raise SessionError naming the
file and the field.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hmm_live import limits
from hmm_live.errors import HmmLiveError, SessionError
from hmm_live.files import atomic_folder, recover_folder, recoverable
from hmm_live.models import MusicVAE, Responder, Subspacer
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import quantize, read_midi, write_midi
from hmm_live.shipped import CHECKPOINTS

FORMAT = 1
INDEX = "session.json"


@dataclass
class Contents:
    """Everything a session folder holds, loaded."""

    musicvae: MusicVAE
    musicvae_ref: str
    settings: Mapping[str, Any]  # a session's SessionSettings; as read, unchecked (Session.open checks)
    clips: ClipLibrary
    training_clips: list[str] | None
    subspacer: Subspacer | None
    responder: Responder | None


def model_ref(path: str | Path) -> str:
    """How a session names its MusicVAE: shipped models by name, others by absolute path."""
    path = Path(path).resolve()
    return path.name if path.parent == CHECKPOINTS else str(path)


def write(folder: str | Path, c: Contents, include_musicvae: bool = False) -> Path:
    """Write a session folder atomically; with `include_musicvae` it is self-contained (an export).
    A full disk or a read-only folder raises SessionError; the folder saved before is kept."""
    folder = Path(folder)
    try:
        with atomic_folder(folder) as tmp:
            _write_into(tmp, c, include_musicvae)
    except (OSError, HmmLiveError) as e:  # HmmLiveError: a clip or a model that could not be written
        reason = _reason(e) if isinstance(e, OSError) else str(e)
        raise SessionError(
            f"cannot save the session to {folder}: {reason}; what was saved there before is kept"
        ) from None
    return folder


def _write_into(tmp: Path, c: Contents, include_musicvae: bool) -> None:
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
    index = {
        "format": FORMAT,
        "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
        "musicvae": {"ref": ref, "identity": c.musicvae.identity()},
        "settings": c.settings,
        "bars": c.clips.bars,
        "clips": files,
        "training_clips": c.training_clips,
    }
    (tmp / INDEX).write_text(json.dumps(index, indent=1))  # last: a folder with an index is whole


def recover(folder: str | Path) -> str | None:
    """Put back the folder a save killed mid-swap left as `.NAME.old`, and delete killed saves'
    temp folders; returns what was done, for the panel, or None."""
    folder = Path(folder)
    try:
        recovered = recover_folder(folder)
    except OSError as e:
        raise SessionError(f"cannot recover the session {folder} from {e.filename}: {_reason(e)}") from None
    return f"{folder}: the last save was interrupted; the session saved before it was restored" if recovered else None


def saved_at(folder: str | Path) -> bool:
    """Whether a session was saved at `folder` (also one a crash left mid-swap)."""
    return Path(folder).exists() or recoverable(folder)


def set_aside(folder: str | Path) -> Path:
    """Rename a folder that cannot be read to NAME.unreadable-DATE, so a new save never writes over it."""
    folder = Path(folder)
    aside = folder.with_name(f"{folder.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        folder.rename(aside)
    except OSError as e:
        raise SessionError(
            f"cannot set the unreadable session {folder} aside as {aside.name}: {_reason(e)}; nothing was saved"
        ) from None
    return aside


def _reason(e: OSError) -> str:
    return f"{e.strerror} ({e.filename})" if e.strerror and e.filename else str(e)


def read(folder: str | Path, musicvae: MusicVAE | None = None) -> Contents:
    """Load a session folder; any problem raises SessionError naming the file at fault."""
    folder = Path(folder)
    index = _index(folder)
    ref = index["musicvae"]["ref"]
    if musicvae is None or musicvae.identity() != index["musicvae"]["identity"]:
        musicvae = _load_musicvae(folder, ref)
    if musicvae.identity() != index["musicvae"]["identity"]:
        raise SessionError(
            f"{folder / INDEX}: the MusicVAE at {ref} has changed since this session was "
            f"saved; its subspace no longer fits it"
        )
    clips = ClipLibrary(index["bars"])
    try:
        for i, entry in enumerate(index["clips"]):
            file = limits.inside(folder, entry["file"], f"{folder / INDEX}: 'clips'[{i}] file", SessionError)
            clips.add(entry["name"], quantize(read_midi(file)))
        subspacer = Subspacer.load(folder / "subspacer", musicvae) if (folder / "subspacer").exists() else None
        responder = (
            Responder.load(folder / "responder", subspacer)
            if subspacer is not None and (folder / "responder").exists()
            else None
        )
    except HmmLiveError as e:
        raise SessionError(f"session {folder} is damaged: {e}") from None
    return Contents(
        musicvae, ref, dict(index.get("settings") or {}), clips, index.get("training_clips"), subspacer, responder
    )


def _index(folder: Path) -> dict:
    """session.json, every field checked for type and bounds."""
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
        raise SessionError(
            f"{path} is from {age} hmm_live (session format {index['format']!r}; this one reads "
            f"format {FORMAT}): open it with that version, or start a new session"
        )
    missing = [k for k in ("musicvae", "bars", "clips") if k not in index]
    if missing:
        raise SessionError(f"{path} lacks {', '.join(missing)}: it is half-written")
    for where, value, ok, wanted in _fields(index):
        if not ok(value):
            raise SessionError(f"{path}: {where} must be {wanted}, got {_short(value)}")
    return index


def _fields(index: dict) -> Iterator[tuple[str, Any, Callable[[Any], bool], str]]:
    """(where, value, check, what it must be) for each field of an index, in order (each may rely
    on the ones before)."""
    yield "'musicvae'", index["musicvae"], lambda v: isinstance(v, dict), "an object with 'ref' and 'identity'"
    yield "'musicvae.ref'", index["musicvae"].get("ref"), lambda v: isinstance(v, str) and bool(v), "a path or a name"
    yield "'musicvae.identity'", index["musicvae"].get("identity"), lambda v: isinstance(v, dict), "an object"
    yield "'bars'", index["bars"], lambda v: type(v) is int and 1 <= v <= 16, "an integer 1-16"
    yield "'settings'", index.get("settings"), lambda v: v is None or isinstance(v, dict), "an object"
    yield "'clips'", index["clips"], lambda v: isinstance(v, list), "a list"
    for i, entry in enumerate(index["clips"]):
        yield f"'clips'[{i}]", entry, _clip_entry, "{'name': text, 'file': a path inside the folder}"
    yield (
        "'training_clips'",
        index.get("training_clips"),
        lambda v: v is None or (isinstance(v, list) and all(isinstance(n, str) for n in v)),
        "null (every clip) or a list of names",
    )


def _clip_entry(entry: Any) -> bool:
    """Where the file is, `read` checks as it opens it (limits.inside: links resolved)."""
    return isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("file"), str)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


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
