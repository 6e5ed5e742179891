"""A performer's session: models, clips, settings and the live engine, saved as a folder."""

from hmm_live.errors import SessionError
from hmm_live.session.session import CLOCK_SOURCES, Session, SessionSettings

__all__ = ["Session", "SessionSettings", "SessionError", "CLOCK_SOURCES"]
