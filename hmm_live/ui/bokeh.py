"""Bokeh in the notebook through jupyter_bokeh, so Python can update plots after display."""
from __future__ import annotations

import contextlib
from typing import Any

from bokeh.io import output_notebook
from IPython import get_ipython
from bokeh.models import LayoutDOM
from bokeh.resources import INLINE
from jupyter_bokeh import BokehModel

_loaded = False


def load_bokeh() -> None:
    """Put BokehJS in the page (inline: the CDN is unreachable offline); once per kernel.

    It must be there before a plot's widget is drawn, and the page loads it
    asynchronously: so `import hmm_live.ui` does this, in an earlier cell than
    any plot (a plot made in the very cell that loads BokehJS may fail to draw).
    """
    global _loaded
    if not _loaded and getattr(get_ipython(), "kernel", None) is not None:
        output_notebook(resources=INLINE, hide_banner=True)
        _loaded = True


class BokehView(BokehModel):
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
        if kind in ("ColumnsStreamed", "ColumnsPatched", "ColumnDataChanged") or \
                (kind == "ModelChanged" and content.get("attr") == "data"):
            return
        super()._sync_model(model, content, buffers)
