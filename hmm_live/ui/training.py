"""The training panel: epochs, beta, dimensions, a train button, progress and a live loss curve.

Training runs in the session's background thread: a running engine keeps
playing and swaps the new models in when both are trained.
"""

from __future__ import annotations

import ipywidgets as widgets
from bokeh.models import ColumnDataSource, FixedTicker
from bokeh.models.annotations import Legend  # bokeh.models' stub lacks it
from bokeh.plotting import figure

from hmm_live.live.messages import TrainingDone, TrainingProgress
from hmm_live.models.subspacer import LAYOUT_EPOCHS
from hmm_live.session import Session
from hmm_live.ui.bokeh import BokehView, ShowsPlots
from hmm_live.ui.message import Message
from hmm_live.ui.monitor import Listening

STAGES = ("subspacer", "responder")
STYLE = {"description_width": "80px"}
FIELD = widgets.Layout(width="210px")
LOSS_TICKS = [round(m * 10.0**e, 3) for e in range(-3, 5) for m in (1, 3)]  # evenly spaced on a log axis


class TrainingPanel(ShowsPlots, Listening, widgets.VBox):
    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-training")
        self.session = session
        s = session.settings
        self.epochs = widgets.BoundedIntText(
            s["epochs"] or 0,
            min=0,
            max=10000,
            description="epochs",
            tooltip="0: until the clips decode back",
            style=STYLE,
            layout=FIELD,
        )
        self.beta = widgets.BoundedFloatText(
            s["beta"], min=0.0, max=100.0, step=0.1, description="beta", style=STYLE, layout=FIELD
        )
        self.dims = widgets.Dropdown(
            options=[2, 3, 4], value=s["latent_dims"], description="dimensions", style=STYLE, layout=FIELD
        )
        self.button = widgets.Button(description="Train", icon="cogs", button_style="primary")
        self.progress = widgets.FloatProgress(0.0, min=0.0, max=1.0, description="progress", style=STYLE)
        self.message = Message()
        self.losses = {stage: ColumnDataSource({"epoch": [], "loss": []}, name=f"hmm_loss_{stage}") for stage in STAGES}
        plot = figure(
            width=420, height=200, y_axis_type="log", x_axis_label="epoch", y_axis_label="loss", toolbar_location=None
        )
        plot.yaxis.ticker = FixedTicker(ticks=LOSS_TICKS)  # Bokeh's log ticker piles labels up within a decade
        legend = Legend(orientation="horizontal", border_line_alpha=0, label_text_font_size="11px")
        plot.add_layout(legend, "above")  # above the curves, never over them
        for stage, color in zip(STAGES, ("#1f77b4", "#ff7f0e")):
            plot.line("epoch", "loss", source=self.losses[stage], color=color, legend_label=stage)
        self.curve = BokehView(plot)
        self.children = [
            widgets.VBox([self.epochs, self.beta, self.dims]),
            widgets.HBox([self.button, self.progress]),
            self.curve,
            self.message,
        ]
        self.button.on_click(self.message.guard(lambda _: self.train()))
        self.listen(session.bus, "training", self._progress)

    def train(self) -> None:
        self.session.configure(epochs=self.epochs.value or None)  # None: until the clips decode back
        self.session.train(beta=self.beta.value, latent_dims=self.dims.value)
        for source in self.losses.values():
            source.data = {"epoch": [], "loss": []}
        self.progress.value = 0.0
        self.button.disabled = True
        self.message.info(
            f"training on {len(self.session.training_library())} clips"
            + ("; the engine keeps playing" if self.session.playing else "")
        )

    def _progress(self, items: list[TrainingProgress | TrainingDone]) -> None:
        for stage in STAGES:
            rows = [i for i in items if isinstance(i, TrainingProgress) and i.stage == stage]
            if rows:
                self.losses[stage].stream(
                    {"epoch": [r.epoch for r in rows], "loss": [max(r.logs["loss"], 1e-9) for r in rows]}
                )
        last = items[-1]
        if isinstance(last, TrainingProgress):
            epoch, epochs = last.epoch, last.epochs
            done = epoch / epochs if epochs else epoch / (epoch + LAYOUT_EPOCHS)  # no end known: approach it
            self.progress.value = (STAGES.index(last.stage) + done) / len(STAGES)
            return
        self.button.disabled = False
        if last.error:
            self.message.error(f"training failed: {last.error}")
        else:
            self.progress.value = 1.0
            subspacer = self.session.subspacer
            assert subspacer is not None  # training just succeeded
            info = subspacer.info
            self.message.info(
                f"trained in {last.seconds:.1f} s, {info['decodes_back']:.0%} of the clips "
                f"decode back from their points"
                + (": the engine plays the new models from the next bar" if self.session.playing else "")
            )
