"""Bokeh in the notebook through jupyter_bokeh, so Python can update plots after display."""
from __future__ import annotations

import contextlib
from typing import Any

from bokeh.io import output_notebook
from bokeh.models import LayoutDOM
from bokeh.resources import INLINE
from jupyter_bokeh import BokehModel

_loaded = False


def load_bokeh() -> None:
    """Put BokehJS in the page (inline: the CDN is unreachable offline); once per kernel."""
    global _loaded
    if not _loaded:
        output_notebook(resources=INLINE, hide_banner=True)
        _loaded = True


class BokehView(BokehModel):
    """jupyter_bokeh's widget without its 4.1.0 echo bug.

    The browser sends every row that Python streams or patches back to the
    kernel, and the stock widget applies it a second time, doubling the
    data. The kernel owns these sources, so those echoes are dropped.
    """

    def __init__(self, model: LayoutDOM, **kwargs: Any):
        load_bokeh()
        super().__init__(model, **kwargs)

    def close(self) -> None:
        with contextlib.suppress(KeyError):  # stock close fails the second time (ipywidgets closes on collection)
            super().close()

    def _sync_model(self, model: BokehModel, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("kind") in ("ColumnsStreamed", "ColumnsPatched"):
            return
        super()._sync_model(model, content, buffers)
