"""Bokeh in the notebook through jupyter_bokeh, so Python can update plots after display."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from bokeh.io import output_notebook
from bokeh.models import LayoutDOM
from bokeh.resources import INLINE
from IPython import get_ipython
from jupyter_bokeh import BokehModel

_loaded_in: set[str] = set()  # the cell runs (execute requests) whose output holds BokehJS


def load_bokeh() -> None:
    """Put BokehJS in the page (inline: the CDN is unreachable offline), once per cell run.

    A plot's view needs BokehJS in the page before it draws, else it shows "Click to
    show javascript error" (reading 'require' of an undefined Bokeh). Once per kernel
    is not enough: a reloaded page, or the notebook reopened in a new tab, has lost it
    while the kernel lives on. So every cell that makes or shows a plot puts it in its
    own output first, ahead of the plot. Outside a cell run (a background thread
    redrawing a plot that is already shown) nothing is published: that page has it.
    """
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None or threading.current_thread() is not threading.main_thread():
        return
    header = kernel.get_parent().get("header", {})
    if header.get("msg_type") != "execute_request" or header.get("msg_id") in _loaded_in:
        return
    _loaded_in.add(header["msg_id"])
    output_notebook(resources=INLINE, hide_banner=True)


class ShowsPlots:
    """Mixin for widgets holding plots: displaying one in a cell loads BokehJS there first
    (a panel made in one cell may be shown again in another, or in another tab)."""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        load_bokeh()
        return super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]  # a mixin: the widget class's method


class BokehView(ShowsPlots, BokehModel):
    """jupyter_bokeh's widget without its 4.1.0 echo bug.

    The browser sends every change Python makes to a data source (streamed or
    patched rows, replaced columns) back to the kernel, and the stock widget
    applies it a second time: streamed rows double, and a replacement echoed
    late (the kernel was busy running a cell) wipes newer rows. Only the
    kernel writes these sources, so their echoes are dropped; the browser's
    own events (taps, zooms) still come through.
    """

    def __init__(self, model: LayoutDOM, **kwargs: Any):
        load_bokeh()
        super().__init__(model, **kwargs)

    def close(self) -> None:
        with contextlib.suppress(KeyError):  # stock close fails the second time (ipywidgets closes on collection)
            super().close()

    def _sync_model(self, model: BokehModel, content: dict[str, Any], buffers: list[Any]) -> None:
        kind = content.get("kind")
        if kind in ("ColumnsStreamed", "ColumnsPatched", "ColumnDataChanged") or (
            kind == "ModelChanged" and content.get("attr") == "data"
        ):
            return
        super()._sync_model(model, content, buffers)
