"""One slider per subspace dimension: release one and the point is decoded and shown, and,
when "play" is ticked, played: on the engine's next bar when it runs, else in this page
(rendered to audio, as the clip library's audition does)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import numpy as np

from hmm_live.live.messages import TrainingDone, TrainingProgress
from hmm_live.music.audio import render, wav_bytes
from hmm_live.session import Session
from hmm_live.ui.message import Message
from hmm_live.ui.monitor import Listening
from hmm_live.ui.roll import PianoRoll


class LatentSliders(Listening, widgets.VBox):
    """`set_point(point)` moves the sliders and decodes once; `on_point(point)` hears every decode.

    `play`: whether "play" starts ticked."""

    def __init__(self, session: Session, on_point: Callable[[np.ndarray], None] | None = None, play: bool = False):
        super().__init__()
        self.add_class("hmm-latent-sliders")
        self.session, self.on_point = session, on_point
        self.sliders: list[widgets.FloatSlider] = []
        self.roll = PianoRoll("decoded", color="#d62728")
        self.play = widgets.Checkbox(description="play (on the engine's next bar, or here)", value=play, indent=False)
        self.audio = widgets.Audio(format="wav", autoplay=True, loop=False, layout=widgets.Layout(height="32px"))
        self.latency = widgets.Label()
        self.message = Message()
        self.decoded = 0  # decodes done, for tests and benchmarks
        self.last_ms: float | None = None
        self._quiet = False
        self._box = widgets.VBox()
        self.children = [self._box, self.roll, widgets.HBox([self.play, self.latency]), self.audio, self.message]
        self.rebuild()
        self.listen(session.bus, "training", self._trained)

    def rebuild(self) -> None:
        """One slider per dimension of the session's subspace, over its clips' range, at the
        point they were at (when the dimensions stay), decoded again by the new subspace."""
        kept = self.point
        subspacer = self.session.subspacer
        dims = subspacer.latent_dims if subspacer is not None else int(self.session.settings["latent_dims"])
        reach = 3.0 if subspacer is None else max(3.0, float(np.abs(subspacer.clip_mu).max()) * 1.2)
        self.sliders = [
            widgets.FloatSlider(
                0.0,
                min=-reach,
                max=reach,
                step=0.01,
                description=f"dim {d + 1}",
                continuous_update=False,
                readout_format=".2f",
            )
            for d in range(dims)
        ]
        for s in self.sliders:
            s.observe(self.message.guard(self._moved), "value")
        self._box.children = self.sliders
        if subspacer is None:
            self.message.info("No subspace yet: train one, then move the sliders.")
        elif len(kept):  # retrained: the point shown, heard and on the map stays one point
            self.set_point(kept if len(kept) == dims else np.zeros(dims))

    @property
    def point(self) -> np.ndarray:
        return np.array([s.value for s in self.sliders], np.float32)

    def set_point(self, point: Sequence[float] | np.ndarray) -> None:
        """Move every slider (clipped to its range), then decode once."""
        self._quiet = True
        try:
            for s, x in zip(self.sliders, point):
                s.value = float(np.clip(x, s.min, s.max))
        finally:
            self._quiet = False
        self.message.guard(self.decode)()

    def decode(self) -> None:
        """Decode the sliders' point through the Subspacer and MusicVAE, show it, maybe play it."""
        subspacer = self.session.subspacer
        if subspacer is None:
            self.message.error("Nothing to decode yet: train the subspace first (training panel).")
            return
        start = time.perf_counter()
        point = self.point
        sequence = subspacer.generate(point, self.session.settings["temperature"])[0]
        self.roll.show(sequence)
        self.last_ms = (time.perf_counter() - start) * 1000
        self.decoded += 1
        self.latency.value = f"decoded in {self.last_ms:.0f} ms"
        self.message.clear()
        if self.on_point is not None:
            self.on_point(point)
        if self.play.value and self.session.playing:
            self.session.play(sequence)
        elif self.play.value:  # no engine: heard in the page
            self.audio.value = wav_bytes(render(sequence))

    def _moved(self, change: dict) -> None:
        if not self._quiet:
            self.decode()

    def _trained(self, items: list[TrainingProgress | TrainingDone]) -> None:
        if any(isinstance(i, TrainingDone) and not i.error for i in items):
            self.rebuild()
            self.message.info("New subspace: the sliders' point decoded by it; move a slider to hear more.")
