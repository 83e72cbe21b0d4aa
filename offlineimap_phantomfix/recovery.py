"""The fallback ladder: what we try, in order, when the plain fetch of a UID did not deliver the message.

It works over a small connection interface so that it can be driven by scripted answers in unit tests and by
offlineimap's own imaplib2 connections in a real sync. Every step is read-only (EXAMINE, PEEK or a non-PEEK
fetch under EXAMINE, which RFC 3501 says does not set \\Seen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from offlineimap_phantomfix.envelope import envelope_original
from offlineimap_phantomfix.placeholder import PlaceholderInfo, substitute_for
from offlineimap_phantomfix.responses import (
    AnswerKind,
    FetchAnswer,
    classify_fetch,
    locate_uid,
    search_has_uid,
    value_text,
)
from offlineimap_phantomfix.said import add_words, answer_words, dropped_words
from offlineimap_phantomfix.verdicts import Evidence, Original, Verdict

MAX_COMMANDS = 9
MAX_ERRORS_IN_ROW = 3
MAX_DROPS = 2

STEP_SEQUENCE = "sequence-fetch"
STEP_UID = "body-under-examine"

# Every item of a message but its content: where it is, and the evidence a report shows.
EVIDENCE_ITEMS = "(UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE ENVELOPE)"
LOCATE_ITEMS = "(UID FLAGS)"  # when the evidence is refused: where it is, from the index alone
# The content: non-PEEK forms under EXAMINE (RFC 3501: no \\Seen), since Exchange serves its substitute notice
# only to those. Nothing else in the same command: Dovecot (imap_fetch_failure = no-after) answers a second
# failing item of one FETCH with BYE.
SEQUENCE_ITEMS = "(UID BODY[])"
UID_ITEMS = "(BODY[])"
HEADER_ITEMS = "(BODY.PEEK[HEADER])"


class ConnectionDropped(Exception):
    """Raised by a ladder connection when the server closed it (BYE, reset, timeout)."""


class LadderConnection(Protocol):
    """One IMAP connection with the folder already EXAMINEd. Each call returns imaplib2's ``(typ, data)``."""

    def uid_fetch(self, uid: int, items: str) -> tuple[str, Sequence[object]]: ...

    def seq_fetch(self, msn: int, items: str) -> tuple[str, Sequence[object]]: ...

    def saw_expunge(self) -> bool:
        """Did this connection receive an EXPUNGE since the folder was selected? Its view then lacks a message
        that the server may still list to every new session."""
        ...

    def fresh_uid_search(self, uid: int) -> tuple[str, Sequence[object]]:
        """EXAMINE the folder again, then ``UID SEARCH UID uid``: asked of the server's listing as it is now."""
        ...


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
    described: Original | None = None  # what the metadata fetch's ENVELOPE names

    @property
    def original(self) -> Original | None:
        """What is known of the lost mail: the substitute notice's words when there was one (the server's
        ENVELOPE then describes the notice), else the ENVELOPE's."""
        if self.placeholder is not None:
            return self.placeholder.original
        return self.described

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
        self.located = False
        self.recovered = False

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
        """The server's words to a fetch of the content: what "server said" shows."""
        add_words(self.outcome.evidence.server_said, text)

    def _note(self, text: str) -> None:
        """Anything else learnt on the way (the metadata fetch refused, no new connection): evidence only."""
        add_words(self.outcome.evidence.notes, text)

    def _open(self) -> LadderConnection | None:
        """The ladder's connection, or None when none could be opened: that counts as a drop, never escapes."""
        try:
            return self._connection()
        except ConnectionDropped as failed:
            self.outcome.drops += 1
            self._note(f"could not open a connection ({failed})")
            if self.outcome.drops >= MAX_DROPS:
                raise _Budget() from None
            return None

    def _run(self, call: Callable[[LadderConnection], tuple[str, Sequence[object]]], *,
             content: bool = False) -> tuple[str, Sequence[object]]:
        """Run one command; a drop is retried once on a fresh connection (the confirmation), then given up.
        ``content``: the command fetches the message's content, so a drop is what the server said to it."""
        while True:
            if self.outcome.commands >= MAX_COMMANDS or self.errors_in_row >= MAX_ERRORS_IN_ROW:
                raise _Budget()
            connection = self._open()
            if connection is None:
                continue
            self.outcome.commands += 1
            try:
                typ, data = call(connection)
            except ConnectionDropped as dropped:
                self.source.release(connection, broken=True)
                self.connection = None
                self.outcome.drops += 1
                (self._say if content else self._note)(dropped_words(str(dropped)))
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
        """Is the UID there? One metadata fetch: its sequence number and the evidence. When the fetch does not
        list it, ``UID SEARCH`` in a fresh view of the folder decides (see :meth:`_gone`)."""
        typ, data = self._run(lambda c: c.uid_fetch(self.uid, EVIDENCE_ITEMS))
        if typ != "OK":
            # Dovecot reads the message file for BODYSTRUCTURE and ENVELOPE: a broken one is refused here too.
            self.refused = True
            self._note(f"metadata fetch: {classify_fetch(typ, data, self.uid).server_said}")
            typ, data = self._run(lambda c: c.uid_fetch(self.uid, LOCATE_ITEMS))
        found = locate_uid(data, self.uid) if typ == "OK" else None
        if found is None:
            return False
        self.msn = found.msn
        evidence = self.outcome.evidence
        evidence.sequence_number = found.msn
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
        if "ENVELOPE" in attributes:
            self.outcome.described = envelope_original(attributes["ENVELOPE"], self.uid)
        self.located = True
        return True

    def content_step(self, name: str, call: Callable[[LadderConnection], tuple[str, Sequence[object]]], *,
                     by_sequence: bool) -> FetchAnswer:
        """One content fetch. Sets ``recovered`` when the message came."""
        holder: list[FetchAnswer] = []

        def wrapped(connection: LadderConnection) -> tuple[str, Sequence[object]]:
            typ, data = call(connection)
            answer = classify_fetch(typ, data, self.uid, by_sequence=by_sequence)
            holder.append(answer)
            return ("OK" if answer.kind is not AnswerKind.REFUSED else "NO"), []

        self._run(wrapped, content=True)
        answer = holder[-1]
        self._say(answer_words(answer, self.uid))
        if answer.kind is AnswerKind.REFUSED:
            self.refused = True
        elif answer.kind is AnswerKind.NIL:
            raise _Vanished()
        elif answer.kind is AnswerKind.DELIVERED and answer.content is not None:
            self._judge(name, answer.content)
        return answer

    def header(self) -> None:
        """The header, as evidence: only when the metadata fetch gave no ENVELOPE (which names the same)."""
        typ, data = self._run(lambda c: c.uid_fetch(self.uid, HEADER_ITEMS))
        answer = classify_fetch(typ, data, self.uid)
        if answer.kind is AnswerKind.DELIVERED and answer.content:
            self.outcome.evidence.header = answer.content
            if self.outcome.placeholder is None:
                self.outcome.placeholder = substitute_for(answer.content, self.uid)
        elif answer.kind is AnswerKind.REFUSED:
            self._note(f"header fetch: {answer.server_said}")

    def _judge(self, name: str, content: bytes) -> None:
        placeholder = substitute_for(content, self.uid)
        if placeholder is not None:
            if self.outcome.placeholder is None:
                self.outcome.placeholder = placeholder
                self.outcome.content = content
        elif self.accept(content):
            self.outcome.content = content
            self.outcome.recovered_by = name
            self.recovered = True
        elif self.unparseable is None:
            self.unparseable = content

    # --- the whole ladder -----------------------------------------------------------------------------
    def run(self) -> LadderOutcome:
        uid = self.uid
        try:
            listed = False  # listed in a fresh view of the folder
            if self._view_is_stale():  # the plain fetch's answer carried an EXPUNGE, most often
                if self._gone():
                    return self._finish(Verdict.VANISHED)
                listed = True
            if not self.locate() and not listed:
                if self._gone():
                    return self._finish(Verdict.VANISHED)
                self.locate()  # listed in the fresh view: where it is now, and the evidence
            answer: FetchAnswer | None = None
            if self.msn is not None:
                msn = self.msn
                answer = self.content_step(STEP_SEQUENCE, lambda c: c.seq_fetch(msn, SEQUENCE_ITEMS),
                                           by_sequence=True)
            # By UID when the sequence number is unknown or the server mapped it to another message.
            if not self.recovered and (answer is None or answer.kind is AnswerKind.MISMATCH):
                self.content_step(STEP_UID, lambda c: c.uid_fetch(uid, UID_ITEMS), by_sequence=False)
            if self.recovered:
                return self._finish(Verdict.RECOVERED)
            if self.outcome.evidence.envelope is None and not self.refused:
                self.header()
        except _Vanished:
            try:
                return self._finish(Verdict.VANISHED if self._gone() else Verdict.EMPTY)
            except _Budget:
                return self._finish(Verdict.VANISHED)
        except _Budget:
            if self.outcome.drops >= MAX_DROPS and not self.located:
                self._evidence_after_drops()
        return self._finish(self._verdict())

    def _view_is_stale(self) -> bool:
        connection = self._open()
        return connection is not None and connection.saw_expunge()

    def _gone(self) -> bool:
        """Is the UID really gone? A session that received an EXPUNGE for it no longer lists it, even when the
        server lists it again to everyone else (and on every later sync), so the folder is EXAMINEd afresh on
        the same connection first: a new view of the folder, without the login a new connection costs."""
        typ, data = self._run(lambda c: c.fresh_uid_search(self.uid))
        return typ == "OK" and not search_has_uid(data, self.uid)

    def _evidence_after_drops(self) -> None:
        """Metadata only, on one more fresh connection; a further drop just ends it."""
        self.outcome.drops = MAX_DROPS - 1
        refused = self.refused  # a metadata fetch refused here says nothing about the content
        try:
            self.locate()
        except _Budget:
            pass
        finally:
            self.outcome.drops = MAX_DROPS
            self.refused = refused

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
               first_said: str = "", first_dropped: bool = False) -> LadderOutcome:
    """Try every read-only way to get ``uid``; return the verdict. Never raises for server behaviour.

    ``first_said``: what the server said to the plain fetch that failed (see :func:`answer_words`); it comes
    first in the outcome's ``server_said``, then the answers to the ladder's content fetches, each once.
    ``first_dropped``: the plain fetch that failed lost its connection, so one more drop in the ladder (on a
    fresh connection, after the evidence is gathered) confirms it."""
    ladder = _Ladder(source, uid, accept)
    ladder._say(first_said)
    if first_dropped:
        ladder.outcome.drops = 1
    try:
        return ladder.run()
    finally:
        ladder.close()
