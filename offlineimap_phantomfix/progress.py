"""While probe or purge waits on a slow or stalling server, one line on stderr every few seconds.

Nothing is printed while the server answers; each line says what is being waited for, for how long, and when
the wait ends (the socket timeout: offlineimap's ``socktimeout``), so a stalled server never looks like a hang.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable

from offlineimap_phantomfix.transcript import Transcript

__all__ = ["INTERVAL_SECONDS", "Progress"]

INTERVAL_SECONDS = 2.0


class Progress:
    """A daemon thread watching the transcript ``current()`` returns; use as a context manager."""

    def __init__(self, write: Callable[[str], None], current: Callable[[], Transcript | None],
                 interval: float = INTERVAL_SECONDS) -> None:
        self.write = write
        self.current = current
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="phantomfix-progress")

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _watch(self) -> None:
        seen: tuple[int, str] | None = None
        quiet_since = time.monotonic()
        before = self.current()  # an earlier command's transcript in the same process is not news
        while not self._stop.wait(self.interval):
            transcript = self.current()
            if transcript is before:
                transcript = None
            now = (-1, "") if transcript is None else transcript.progress()
            if now != seen:
                seen, quiet_since = now, time.monotonic()
                continue
            waited = time.monotonic() - quiet_since + self.interval
            limit = socket.getdefaulttimeout()
            what = f"an answer to {now[1]}" if now[1] else "the server"
            bound = f"; gives up after {limit:g} s without an answer" if limit else ""
            self.write(f"still waiting for {what} ({waited:.0f} s so far{bound})")
