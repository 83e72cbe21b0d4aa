"""Glue: record every byte of the connections offlineimap opens, and give offlineimap a quiet UI.

While :func:`recording` is active, ``offlineimap.imapserver`` sees a stand-in for ``offlineimap.imaplibutil``
whose connection classes feed a :class:`~offlineimap_phantomfix.transcript.Transcript`. offlineimap's UI
(:func:`make_ui`) turns warnings into transcript notes, never prints and never prompts (:class:`NoPassword`).
"""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from offlineimap_phantomfix.transcript import ConnectionLog, Transcript

__all__ = ["NoPassword", "current", "make_ui", "recording"]


# --- recording offlineimap's connections ----------------------------------------------------------------------

current = threading.local()
_patch_lock = threading.Lock()
_patch_count = 0
_patched: dict[str, Any] = {}
_CONNECTION_CLASSES = ("WrappedIMAP4", "WrappedIMAP4_SSL", "IMAP4_Tunnel")


class _RecordingMixin:
    """Put in front of offlineimap's imaplib2 classes: every byte read or sent goes to the transcript that
    was current in the thread that created the connection (none: nothing is recorded)."""

    _phantomfix_log: ConnectionLog | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        transcript: Transcript | None = getattr(current, "transcript", None)
        description: str = getattr(current, "description", "")
        self._phantomfix_log = transcript.connection(description) if transcript is not None else None
        super().__init__(*args, **kwargs)

    def read(self, size: int) -> bytes:
        data: bytes = super().read(size)  # type: ignore[misc]
        log = self._phantomfix_log
        if log is not None and data:
            log.server(bytes(data))
        return data

    def send(self, data: bytes) -> None:
        log = self._phantomfix_log
        if log is not None:
            log.client(bytes(data))
        super().send(data)  # type: ignore[misc]


def _recording_module(real: types.ModuleType) -> types.ModuleType:
    """A stand-in for ``offlineimap.imaplibutil`` as seen from ``offlineimap.imapserver``: the connection
    classes are recording subclasses, everything else is the real module's.

    The real module is left alone: its classes call ``super(WrappedIMAP4_SSL, self)`` through their own
    module's names, which must keep naming the original classes (a subclass there makes that call recurse).
    """

    class RecordingModule(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    stand_in = RecordingModule(real.__name__, real.__doc__)
    for name in _CONNECTION_CLASSES:
        original = getattr(real, name)
        setattr(stand_in, name, type(f"Recording{name}", (_RecordingMixin, original), {}))
    return stand_in


@contextmanager
def recording(transcript: Transcript, description: str) -> Iterator[None]:
    """While active, connections offlineimap opens in this thread are recorded into ``transcript``."""
    global _patch_count
    from offlineimap import imaplibutil, imapserver

    with _patch_lock:
        if _patch_count == 0:
            _patched["imaplibutil"] = imapserver.imaplibutil
            imapserver.imaplibutil = _recording_module(imaplibutil)
        _patch_count += 1
    previous = getattr(current, "transcript", None), getattr(current, "description", "")
    current.transcript, current.description = transcript, description
    try:
        yield
    finally:
        current.transcript, current.description = previous
        with _patch_lock:
            _patch_count -= 1
            if _patch_count == 0:
                imapserver.imaplibutil = _patched.pop("imaplibutil")


# --- offlineimap's UI, quiet --------------------------------------------------------------------------------

class _NoteHandler(logging.Handler):
    def __init__(self, transcript: Transcript) -> None:
        super().__init__(logging.WARNING)
        self.transcript = transcript
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed log call inside offlineimap must not break the probe
            text = str(record.msg)
        self.messages.append(text)
        self.transcript.note("offlineimap: " + text)


def make_ui(parser: Any, transcript: Transcript) -> Any:
    from offlineimap.ui.UIBase import UIBase

    class QuietUI(UIBase):
        """offlineimap's UI for this helper: warnings become transcript notes; never prompts, never prints."""

        def setup_consolehandler(self) -> logging.Handler:
            handler = _NoteHandler(transcript)
            self.logger.addHandler(handler)
            return handler

        def getpass(self, username: Any, config: Any, errmsg: Any = None) -> str:
            raise NoPassword()

    return QuietUI(parser, loglevel=logging.WARNING)


class NoPassword(Exception):
    """offlineimap would have prompted for a password."""
