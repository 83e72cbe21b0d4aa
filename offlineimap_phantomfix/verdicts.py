"""Pure data shared by every layer: verdicts, message keys, records and collected evidence."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Verdict(str, enum.Enum):
    """How a message that the plain fetch did not deliver ended."""

    RECOVERED = "recovered"
    VANISHED = "vanished"
    EMPTY = "empty"
    PLACEHOLDER = "placeholder"
    REFUSED = "refused"
    DROPPED = "dropped"
    UNPARSEABLE = "unparseable"

    @property
    def may_pass(self) -> bool:
        """A refusal or dropped connection may be passing: the first one is retried on the next sync."""
        return self in (Verdict.REFUSED, Verdict.DROPPED)

    @property
    def is_phantom(self) -> bool:
        """True for verdicts that leave the message out of the Maildir (and so may be skipped)."""
        return self not in (Verdict.RECOVERED, Verdict.VANISHED)

    def describe(self, message: str) -> str:
        """What the server does with ``message`` ("it", "UID 15541"), in a few words for one log line."""
        return _BEHAVIOUR[self].format(message=message)


_BEHAVIOUR = {
    Verdict.RECOVERED: "a fallback fetch delivers {message}",
    Verdict.VANISHED: "{message} is no longer in the folder (expunged meanwhile); nothing to keep",
    Verdict.EMPTY: "the server lists {message} but returns no data for it",
    Verdict.PLACEHOLDER: "the server sends its substitute notice instead of {message}",
    Verdict.REFUSED: "the server refuses to send {message}",
    Verdict.DROPPED: "the server drops the connection whenever {message} is fetched",
    Verdict.UNPARSEABLE: "bytes arrive for {message} but offlineimap cannot store them",
}


class PhantomAction(str, enum.Enum):
    """What to do with a phantom (``phantom_action``)."""

    QUARANTINE = "quarantine"
    SKIP = "skip"
    RETRY = "retry"


@dataclass(frozen=True, order=True)
class MessageKey:
    """Identifies one message on one server for as long as UIDVALIDITY holds."""

    account: str
    repository: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class Original:
    """What is known of the lost mail itself (from the Exchange substitute or the headers we got)."""

    subject: str | None = None
    sender: str | None = None
    date: str | None = None

    def is_empty(self) -> bool:
        return self.subject is None and self.sender is None and self.date is None


@dataclass
class Evidence:
    """What the server did say about a message it would not deliver; every part may be missing."""

    flags: str | None = None
    internaldate: str | None = None
    size: int | None = None
    bodystructure: str | None = None
    envelope: str | None = None
    header: bytes | None = None
    server_said: list[str] = field(default_factory=list)  # the answers to the fetches of the content, in order
    sequence_number: int | None = None
    notes: list[str] = field(default_factory=list)  # other answers (metadata, header), failures, conclusions


@dataclass
class PhantomRecord:
    """One row of the store: the latest verdict on one message and its history."""

    key: MessageKey
    verdict: Verdict
    skipped: bool
    first_seen: datetime
    last_seen: datetime
    attempts: int = 1
    server_said: str = ""
    recovered_by: str | None = None
    quarantine: str | None = None
    original: Original | None = None
    size: int | None = None
    flags: str | None = None
    purged: bool = False
    reported: bool = False

    @property
    def confirmed(self) -> bool:
        """A phantom found by more than one sync: not a verdict resting on one failed attempt."""
        return self.verdict.is_phantom and self.attempts >= 2
