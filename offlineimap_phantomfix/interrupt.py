"""Ctrl-C (SIGINT) and SIGTERM for the command line: one line and a prompt exit, whatever a connection is doing.

The first signal unwinds the command (connections are closed as usual); if that does not finish within
:data:`GRACE_SECONDS` (a silent server, offlineimap's connection pool waiting for a half-open connection), the
process ends anyway. A second signal ends it at once. Either way exactly one line is written, saying what the
command did and did not do, and the exit status is 128 + the signal number (130, 143).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Callable

__all__ = ["GRACE_SECONDS", "InterruptGuard", "Interrupted", "purge_progress"]

GRACE_SECONDS = 1.0
_NAMES: dict[int, str] = {int(signal.SIGINT): "Ctrl-C (SIGINT)", int(signal.SIGTERM): "SIGTERM"}


class Interrupted(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM (a BaseException: no ``except Exception`` eats it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class InterruptGuard:
    """Signal handlers for one command run. ``describe`` says what the command has done so far."""

    def __init__(self, prog: str, describe: Callable[[], str] | None = None) -> None:
        self.prog = prog
        self.describe: Callable[[], str] = describe or (lambda: "nothing was changed")
        self._signum: int | None = None
        self._lock = threading.Lock()
        self._previous: dict[int, object] = {}

    def install(self) -> bool:
        """Install the handlers (only possible in the main thread); False when they could not be."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for signum in _NAMES:
            self._previous[signum] = signal.signal(signum, self._handle)
        return True

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._signum is not None:
            self.finish()
        self._signum = signum
        timer = threading.Timer(GRACE_SECONDS, self.finish)
        timer.daemon = True
        timer.start()
        raise Interrupted(signum)

    def line(self) -> str:
        signum = self._signum if self._signum is not None else signal.SIGINT
        try:
            done = self.describe()
        except Exception as error:  # the line must be written whatever state the command was left in
            done = f"what was done is unknown ({type(error).__name__})"
        return f"{self.prog}: interrupted by {_NAMES.get(signum, f'signal {signum}')}; {done}"

    def finish(self) -> None:
        """Write the one line and end the process now (from the main thread or the grace timer)."""
        with self._lock:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            code = 128 + (self._signum if self._signum is not None else signal.SIGINT)
            try:
                os.write(sys.stderr.fileno(), (self.line().replace("\n", " ") + "\n").encode("utf-8", "replace"))
            except (OSError, ValueError):
                pass
            os._exit(code)


def purge_progress(answered: Callable[[str], str | None], uid: int) -> str:
    """What a ``purge --yes`` interrupted at this point did to UID ``uid``, from the commands sent and answered
    (``answered(prefix)``: the tagged status of the last such command, '' when unanswered, None when not sent)."""
    flag = f"UID {uid} is flagged \\Deleted"
    store = answered(f"UID STORE {uid} +FLAGS")
    if store is None:
        return f"nothing was changed on the server (UID {uid} was not flagged or expunged)"
    if store == "":
        return (f"the command flagging UID {uid} \\Deleted was sent but not answered, so it may be flagged; it was "
                f"not expunged; check it with 'probe' and run 'purge --yes' again")
    if store != "OK":
        return f"the server refused to flag UID {uid}; nothing was changed"
    if answered(f"UID STORE {uid} -FLAGS") == "OK":
        return f"UID {uid} was flagged \\Deleted and the flag was taken back; nothing was expunged"
    expunge = answered(f"UID EXPUNGE {uid}")
    if expunge is None:
        expunge = answered("EXPUNGE")
    if expunge is None:
        return f"{flag} but was not expunged; run 'purge --yes' again to finish"
    if expunge == "":
        return (f"{flag}; the expunge was sent but not answered, so whether UID {uid} is gone is unknown; "
                f"check it with 'probe'")
    if expunge == "OK":
        return f"UID {uid} was expunged on the server; the phantom store was not updated"
    return f"{flag}; the server refused the expunge"
