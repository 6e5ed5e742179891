"""Widget callbacks that run while a cell runs: ipykernel 7.4's comm routing, corrected.

JupyterLab (4.4 and later) sends a widget's messages on a kernel subshell, so a
click is handled at once even while the main shell runs a long cell. ipykernel
7.4 sends a comm message instead to the subshell that last *sent* on that comm
(meant for a front end's reply to a request the kernel made from a subshell);
for a widget made or updated by a cell, that is the main shell, so every click
waited for the running cell and the panel froze (seen in a real browser: a
Stop clicked during `time.sleep(30)` acted 30 s later). `route_to_subshells()`
keeps that routing for replies that name their request and leaves every other
message on the subshell the front end chose. ipykernel 7.3 and earlier have
no such routing, and are left alone.
"""

from __future__ import annotations

from typing import Any


def _reply_subshell_for(comm: Any, data: Any, default: str | None) -> str | None:
    """ipykernel's routing for a front-end comm message, kept for replies that name a request."""
    from ipykernel.comm.comm import _request_id

    request_id = _request_id(data)
    if request_id is None:
        return default
    with comm._reply_subshell_lock:
        return comm._reply_subshell_ids.pop(request_id, default)


def route_to_subshells() -> None:
    """Let front-end comm messages run on the subshell they were sent to."""
    try:
        from ipykernel.comm.comm import BaseComm
    except ImportError:  # not in an ipykernel
        return
    if hasattr(BaseComm, "_reply_subshell_for"):
        BaseComm._reply_subshell_for = _reply_subshell_for  # type: ignore[method-assign]  # deliberately patched
