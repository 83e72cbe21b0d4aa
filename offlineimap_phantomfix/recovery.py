"""The fallback ladder: what we try, in order, when the plain fetch of a UID did not deliver the message.

It works over a small connection interface so that it can be driven by scripted answers in unit tests and by
offlineimap's own imaplib2 connections in a real sync. Every step is read-only (EXAMINE, PEEK or a non-PEEK
fetch under EXAMINE, which RFC 3501 says does not set \\Seen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from offlineimap_phantomfix.placeholder import PlaceholderInfo, substitute_for
from offlineimap_phantomfix.responses import (
    AnswerKind,
    FetchAnswer,
    classify_fetch,
    locate_uid,
    search_has_uid,
    value_text,
)
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import Evidence, Original, Verdict

MAX_COMMANDS = 9
MAX_ERRORS_IN_ROW = 3
MAX_DROPS = 2

STEP_RETRY = "retry"
STEP_EXAMINE_BODY = "body-under-examine"
STEP_SEQUENCE = "sequence-fetch"


class ConnectionDropped(Exception):
    """Raised by a ladder connection when the server closed it (BYE, reset, timeout)."""


class LadderConnection(Protocol):
    """One IMAP connection with the folder already EXAMINEd. Each call returns imaplib2's ``(typ, data)``."""

    def uid_fetch(self, uid: int, items: str) -> tuple[str, Sequence[object]]: ...

    def seq_fetch(self, msn: int, items: str) -> tuple[str, Sequence[object]]: ...

    def uid_search(self, uid: int) -> tuple[str, Sequence[object]]: ...


class ConnectionSource(Protocol):
    """Hands out ladder connections and takes them back; a broken one must never be handed out again."""

    def open(self) -> LadderConnection: ...

    def release(self, connection: LadderConnection, *, broken: bool) -> None: ...


@dataclass
class LadderOutcome:
    """The verdict and everything learnt on the way."""

    verdict: Verdict
    content: bytes | None = None  # the recovered message, the substitute, or the unparseable bytes
    recovered_by: str | None = None
    placeholder: PlaceholderInfo | None = None
    evidence: Evidence = field(default_factory=Evidence)
    commands: int = 0
    drops: int = 0

    @property
    def original(self) -> Original | None:
        return self.placeholder.original if self.placeholder is not None else None

    @property
    def server_said(self) -> str:
        return " | ".join(self.evidence.server_said)


class _Budget(Exception):
    """Internal: the ladder has spent its commands, errors or drops."""


class _Ladder:
    def __init__(self, source: ConnectionSource, uid: int, accept: Callable[[bytes], bool]) -> None:
        self.source = source
        self.uid = uid
        self.accept = accept
        self.connection: LadderConnection | None = None
        self.outcome = LadderOutcome(Verdict.EMPTY)
        self.errors_in_row = 0
        self.refused = False
        self.unparseable: bytes | None = None
        self.msn: int | None = None

    # --- plumbing -------------------------------------------------------------------------------------
    def _connection(self) -> LadderConnection:
        if self.connection is None:
            self.connection = self.source.open()
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.source.release(self.connection, broken=self.errors_in_row >= MAX_ERRORS_IN_ROW)
            self.connection = None

    def _say(self, text: str) -> None:
        text = clean_text(text, limit=300)
        if text and text not in self.outcome.evidence.server_said:
            self.outcome.evidence.server_said.append(text)

    def _run(self, call: Callable[[LadderConnection], tuple[str, Sequence[object]]]) -> tuple[str, Sequence[object]]:
        """Run one command; a drop is retried once on a fresh connection (the confirmation), then given up."""
        while True:
            if self.outcome.commands >= MAX_COMMANDS or self.errors_in_row >= MAX_ERRORS_IN_ROW:
                raise _Budget()
            try:
                connection = self._connection()
            except ConnectionDropped as failed:  # no new connection: counts as a drop, never escapes
                self.outcome.drops += 1
                self._say(f"could not open a connection ({failed})")
                if self.outcome.drops >= MAX_DROPS:
                    raise _Budget() from None
                continue
            self.outcome.commands += 1
            try:
                typ, data = call(connection)
            except ConnectionDropped as dropped:
                self.source.release(connection, broken=True)
                self.connection = None
                self.outcome.drops += 1
                self._say(f"connection dropped ({dropped})")
                if self.outcome.drops >= MAX_DROPS:
                    raise _Budget() from None
                continue
            if typ == "OK":
                self.errors_in_row = 0
            else:
                self.errors_in_row += 1
            return typ, data

    # --- steps ----------------------------------------------------------------------------------------
    def locate(self) -> bool:
        """Is the UID still there? Remember its sequence number and flags. False when it is gone."""
        typ, data = self._run(lambda c: c.uid_fetch(self.uid, "(UID FLAGS)"))
        found = locate_uid(data, self.uid) if typ == "OK" else None
        if found is not None:
            self.msn = found.msn
            self.outcome.evidence.sequence_number = found.msn
            flags = found.attributes.get("FLAGS")
            self.outcome.evidence.flags = value_text(flags) if flags is not None else None
            return True
        typ, data = self._run(lambda c: c.uid_search(self.uid))
        return typ != "OK" or search_has_uid(data, self.uid)

    def content_step(self, name: str, call: Callable[[LadderConnection], FetchAnswer]) -> bool:
        """One content fetch. True when the message was recovered."""
        holder: list[FetchAnswer] = []

        def wrapped(connection: LadderConnection) -> tuple[str, Sequence[object]]:
            answer = call(connection)
            holder.append(answer)
            return ("OK" if answer.kind is not AnswerKind.REFUSED else "NO"), []

        self._run(wrapped)
        answer = holder[-1]
        if answer.kind is AnswerKind.REFUSED:
            self.refused = True
            self._say(answer.server_said)
            return False
        if answer.kind is AnswerKind.MISMATCH:
            self._say(answer.server_said)
            return False
        if answer.kind is AnswerKind.NIL:
            raise _Vanished()
        if answer.kind is not AnswerKind.DELIVERED or answer.content is None:
            return False
        content = answer.content
        placeholder = substitute_for(content, self.uid)
        if placeholder is not None:
            if self.outcome.placeholder is None:
                self.outcome.placeholder = placeholder
                self.outcome.content = content
            return False
        if self.accept(content):
            self.outcome.content = content
            self.outcome.recovered_by = name
            return True
        if self.unparseable is None:
            self.unparseable = content
        return False

    def evidence(self, *, with_header: bool) -> None:
        items = "(UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE ENVELOPE)"
        typ, data = self._run(lambda c: c.uid_fetch(self.uid, items))
        found = locate_uid(data, self.uid) if typ == "OK" else None
        if typ != "OK":
            self._say(classify_fetch(typ, data, self.uid).server_said)
        if found is not None:
            evidence = self.outcome.evidence
            attributes = found.attributes
            if attributes.get("FLAGS") is not None:
                evidence.flags = value_text(attributes["FLAGS"])
            size = attributes.get("RFC822.SIZE")
            if isinstance(size, bytes) and size.isdigit():
                evidence.size = int(size)
            for name, target in (("INTERNALDATE", "internaldate"), ("BODYSTRUCTURE", "bodystructure"),
                                 ("ENVELOPE", "envelope")):
                if name in attributes:
                    setattr(evidence, target, value_text(attributes[name]))
        if not with_header:
            return
        typ, data = self._run(lambda c: c.uid_fetch(self.uid, "(BODY.PEEK[HEADER])"))
        answer = classify_fetch(typ, data, self.uid)
        if answer.kind is AnswerKind.DELIVERED and answer.content:
            self.outcome.evidence.header = answer.content
            if self.outcome.placeholder is None:
                self.outcome.placeholder = substitute_for(answer.content, self.uid)
        elif answer.kind is AnswerKind.REFUSED:
            self._say(answer.server_said)

    # --- the whole ladder -----------------------------------------------------------------------------
    def run(self) -> LadderOutcome:
        uid = self.uid
        try:
            if not self.locate() and self._gone():
                return self._finish(Verdict.VANISHED)
            steps: list[tuple[str, Callable[[LadderConnection], FetchAnswer]]] = [
                (STEP_RETRY, lambda c: classify_fetch(*c.uid_fetch(uid, "(BODY.PEEK[])"), uid)),
                (STEP_EXAMINE_BODY, lambda c: classify_fetch(*c.uid_fetch(uid, "(BODY[])"), uid)),
            ]
            if self.msn is not None:
                msn = self.msn
                steps.append((STEP_SEQUENCE, lambda c: classify_fetch(
                    *c.seq_fetch(msn, "(UID BODY.PEEK[])"), uid, by_sequence=True)))
            for name, call in steps:
                if self.content_step(name, call):
                    return self._finish(Verdict.RECOVERED)
            self.evidence(with_header=True)
        except _Vanished:
            try:
                return self._finish(Verdict.VANISHED if self._gone() else Verdict.EMPTY)
            except _Budget:
                return self._finish(Verdict.VANISHED)
        except _Budget:
            if self.outcome.drops >= MAX_DROPS:
                self._evidence_after_drops()
        return self._finish(self._verdict())

    def _gone(self) -> bool:
        """Is the UID really gone? Asked on a fresh connection: a session that received an EXPUNGE for it no
        longer lists it, even when the server lists it again to everyone else (and on every later sync)."""
        if self.connection is not None:
            self.source.release(self.connection, broken=True)
            self.connection = None
        return not self.locate()

    def _evidence_after_drops(self) -> None:
        """Metadata only, on one more fresh connection; a further drop just ends it."""
        self.outcome.drops = MAX_DROPS - 1
        try:
            self.evidence(with_header=False)
        except _Budget:
            pass
        finally:
            self.outcome.drops = MAX_DROPS

    def _verdict(self) -> Verdict:
        if self.outcome.placeholder is not None and self.outcome.content is not None:
            return Verdict.PLACEHOLDER
        if self.unparseable is not None:
            self.outcome.content = self.unparseable
            return Verdict.UNPARSEABLE
        # A server that said NO/BAD to a content fetch is refusing, even when it also dropped the connection
        # (Dovecot with imap_fetch_failure = no-after answers NO once per session, then BYE on a repeat).
        if self.refused:
            return Verdict.REFUSED
        if self.outcome.drops >= MAX_DROPS:
            return Verdict.DROPPED
        if self.outcome.placeholder is not None:  # only the header said so: nothing to quarantine as is
            return Verdict.PLACEHOLDER
        return Verdict.EMPTY

    def _finish(self, verdict: Verdict) -> LadderOutcome:
        self.close()
        self.outcome.verdict = verdict
        if verdict is not Verdict.RECOVERED and verdict is not Verdict.PLACEHOLDER and \
                verdict is not Verdict.UNPARSEABLE:
            self.outcome.content = None
        return self.outcome


class _Vanished(Exception):
    """Internal: the server answered NIL for the content (expunged meanwhile)."""


def run_ladder(source: ConnectionSource, uid: int, *, accept: Callable[[bytes], bool],
               first_failure: str = "") -> LadderOutcome:
    """Try every read-only way to get ``uid``; return the verdict. Never raises for server behaviour."""
    ladder = _Ladder(source, uid, accept)
    try:
        outcome = ladder.run()
    finally:
        ladder.close()
    # The server's own words come first; offlineimap's error line only when the server said nothing else.
    if first_failure and not outcome.evidence.server_said:
        ladder._say(first_failure)
    return outcome
