"""The clip library: record from the capture, load MIDI, list, audition, pick training data."""

from __future__ import annotations

import ipywidgets as widgets

from hmm_live.music.audio import render, synth, wav_bytes
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import NoteSequence
from hmm_live.session import Session
from hmm_live.ui.message import Message, released_on_error
from hmm_live.ui.roll import PianoRoll


def audio_player(sequence: NoteSequence) -> widgets.Audio:
    """An audio player widget for a sequence (FluidSynth where installed, else a sine synth)."""
    return widgets.Audio(value=wav_bytes(render(sequence)), format="wav", autoplay=False, loop=False)


class ClipLibraryPanel(widgets.VBox):
    """The session's clips. The ones selected when "use selected" is pressed are the training data."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-clip-library")
        self.session = session
        self.list = widgets.SelectMultiple(rows=8, layout=widgets.Layout(width="300px"))
        button = widgets.Layout(width="150px")
        self.record = widgets.ToggleButton(description="Record", icon="circle", layout=button)
        self.audition = widgets.Button(description="Audition", icon="volume-up", layout=button)
        self.use = widgets.Button(description="Train on selected", layout=button)
        self.use_all = widgets.Button(description="Train on all", layout=button)
        self.remove = widgets.Button(description="Remove", icon="trash", layout=button)
        self.path = widgets.Text(placeholder="MIDI file or folder to load", layout=widgets.Layout(width="300px"))
        self.load = widgets.Button(description="Load MIDI", layout=button)
        self.roll = PianoRoll("clip")
        self.player = widgets.Audio(format="wav", autoplay=False)
        self.message = Message()
        self.children = [
            widgets.HBox([self.list, widgets.VBox([self.record, self.audition, self.use, self.use_all, self.remove])]),
            widgets.HBox([self.path, self.load]),
            self.roll,
            self.player,
            self.message,
        ]
        guard = self.message.guard
        self.record.observe(guard(self._record), "value")
        self.audition.on_click(guard(lambda _: self._audition()))
        self.use.on_click(guard(lambda _: self._pick(list(self.list.value))))
        self.use_all.on_click(guard(lambda _: self._pick(None)))
        self.remove.on_click(guard(lambda _: self._remove()))
        self.load.on_click(guard(lambda _: self._load()))
        self.list.observe(guard(lambda c: self.roll.show(self._selected())), "value")
        self.refresh()

    def refresh(self) -> None:
        picked = self.session.training_clips
        self.list.options = [
            (f"{n}{'' if picked is None or n in picked else '  (not trained on)'}", n) for n in self.session.clips.names
        ]

    def _selected(self) -> NoteSequence | None:
        names = self.list.value
        return self.session.clips[names[0]].sequence if names else None

    def _record(self, change: dict) -> None:
        if change["new"]:
            with released_on_error(self.record):
                self.session.record()
            self.message.info("recording: play, then press Record again")
            return
        added = self.session.stop_recording()
        self.refresh()
        self.message.info(f"added {len(added)} clips: {', '.join(added)}" if added else "nothing was played")

    def _audition(self) -> None:
        sequence = self._selected()
        if sequence is None:
            self.message.error("select a clip to audition")
            return
        self.player.value = wav_bytes(render(sequence))
        self.message.info(f"rendered with {synth()}: press play")

    def _pick(self, names: list[str] | None) -> None:
        if names is not None and len(names) < 2:
            self.message.error("select at least 2 clips to train on")
            return
        self.session.training_clips = names
        self.refresh()
        self.message.info(f"training data: {'all clips' if names is None else f'{len(names)} clips'}")

    def _remove(self) -> None:
        for name in self.list.value:
            self.session.clips.remove(name)
        self.refresh()

    def _load(self) -> None:
        if not self.path.value.strip():
            self.message.error("type the path of a MIDI file or folder first")
            return
        loaded = ClipLibrary.from_midi(self.path.value.strip(), bars=self.session.clips.bars)
        added = [clip.name for clip in loaded if clip.name not in self.session.clips.names]
        for name in added:
            self.session.clips.add(name, loaded[name].sequence)
        self.refresh()
        self.message.info(
            f"loaded {len(added)} clips"
            + (f" ({len(loaded) - len(added)} already here)" if len(added) < len(loaded) else "")
        )
