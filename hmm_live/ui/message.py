"""A line of text in a widget for what went right or wrong: errors are shown, never raised
into the notebook's log where a performer would not see them."""

from __future__ import annotations

import contextlib
import functools
import html
import logging
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from hmm_live.errors import HmmLiveError

log = logging.getLogger("hmm_live.ui")


class Message(widgets.HTML):
    def __init__(self):
        super().__init__()
        self.add_class("hmm-message")

    def info(self, text: str) -> None:
        self.value = f'<span class="hmm-info" style="color:#2a6f2a">{html.escape(text)}</span>'

    def error(self, text: str) -> None:
        self.value = f'<span class="hmm-error" style="color:#b00020">{html.escape(text)}</span>'

    def clear(self) -> None:
        self.value = ""

    def guard(self, action: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a widget callback: whatever it raises is shown here."""

        @functools.wraps(action)
        def guarded(*args, **kwargs):
            try:
                return action(*args, **kwargs)
            except HmmLiveError as e:
                self.error(str(e))
            except Exception as e:  # a bug: shown and logged, the panel keeps working
                log.exception("%s failed", getattr(action, "__name__", "a widget callback"))
                self.error(f"{type(e).__name__}: {e}")

        return guarded


@contextlib.contextmanager
def released_on_error(toggle: widgets.ToggleButton) -> Iterator[None]:
    """A toggle whose action fails pops back up (the error goes on to the message)."""
    try:
        yield
    except Exception:
        toggle.value = False
        raise
