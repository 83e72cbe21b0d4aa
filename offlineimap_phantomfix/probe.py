"""``probe``: the manual IMAP session users type into ``openssl s_client``, automated and read-only.

Through offlineimap's own connection settings (see :mod:`session`), it EXAMINEs the folder (never SELECT),
finds the UID (``UID FETCH n (UID FLAGS)``, ``UID SEARCH UID n``), then tries every fetch form one by one and
notes what the server answered to each: UID and sequence forms of ``BODY.PEEK[]`` and ``BODY[]`` (non-PEEK is
safe under EXAMINE), ``BODY.PEEK[HEADER]``, ``BODYSTRUCTURE``, ``RFC822.SIZE``, ``FLAGS``, ``INTERNALDATE``.
A dropped connection is noted, and the probe reconnects and goes on.

The verdict is the sync's own: when the plain fetch (what offlineimap sends) does not deliver a usable
message, the probe runs the very fallback ladder a ``PhantomSafeIMAP`` sync runs (:func:`recovery.run_ladder`,
read-only) and reports its verdict, without recording or quarantining anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from offlineimap_phantomfix.errors import NotFoundError, ServerError
from offlineimap_phantomfix.imapconn import PoolSource, accepts_like_offlineimap, imap_call, timeout_words
from offlineimap_phantomfix.placeholder import PlaceholderInfo, substitute_for
from offlineimap_phantomfix.recovery import ConnectionDropped, LadderOutcome, run_ladder
from offlineimap_phantomfix.responses import AnswerKind, FetchAnswer, classify_fetch, locate_uid, value_text
from offlineimap_phantomfix.said import answer_words
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.session import Session, locate, open_session, select_folder
from offlineimap_phantomfix.verdicts import Verdict

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig

__all__ = ["FORMS", "FetchForm", "ProbeResult", "run_probe"]

MAX_DROPS = 2  # after this many drops, content forms are no longer tried (metadata forms still are)


@dataclass
class ProbeResult:
    """The redacted, cleaned transcript and a one-line verdict (``verdict: <word>: <why>``)."""

    transcript: str
    verdict: str
    outcome: Verdict | None = None  # the ladder's verdict; None when the plain fetch delivered (``delivered``)
    delivered: bool = False  # the plain fetch, what offlineimap sends, returned the message: not a phantom


@dataclass(frozen=True)
class FetchForm:
    """One way of asking for the message."""

    items: str
    by_sequence: bool = False
    content: bool = True
    why: str = ""

    def command(self, uid: int, msn: int) -> str:
        if self.by_sequence:
            return f"FETCH {msn} {self.items}"
        return f"UID FETCH {uid} {self.items}"


FORMS: tuple[FetchForm, ...] = (
    FetchForm("(BODY.PEEK[])", why="the fetch offlineimap does"),
    FetchForm("(BODY[])", why="non-PEEK: safe under EXAMINE, some servers answer only this"),
    FetchForm("(UID BODY.PEEK[])", by_sequence=True, why="by sequence number"),
    FetchForm("(UID BODY[])", by_sequence=True, why="by sequence number, non-PEEK"),
    FetchForm("(BODY.PEEK[HEADER])", why="the header only"),
    FetchForm("(BODYSTRUCTURE)", content=False),
    FetchForm("(RFC822.SIZE)", content=False),
    FetchForm("(FLAGS)", content=False),
    FetchForm("(INTERNALDATE)", content=False),
)


@dataclass
class _Probe:
    session: Session
    folder: str
    uid: int
    accept: Callable[[bytes], bool]
    imapobj: Any = None
    msn: int = 0
    drops: int = 0
    gone: bool = False
    plain: FetchAnswer | None = None
    placeholder: PlaceholderInfo | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def note(self) -> Callable[[str], None]:
        return self.session.transcript.note

    # --- connection handling ----------------------------------------------------------------------------
    def connect(self) -> None:
        self.imapobj = self.session.acquire()
        select_folder(self.session, self.imapobj, self.folder, readonly=True)

    def dropped(self, why: str, byes_before: int) -> None:
        self.drops += 1
        byes = self.session.transcript.byes[byes_before:]
        timeout = None if byes else timeout_words(why)
        if byes:
            why = f"BYE {byes[-1]}"
        if timeout is not None:
            self.note(f"=> timed out: {timeout}; the connection is given up")
        else:
            self.note(f"=> dropped: the server closed the connection ({why})")
        if self.imapobj is not None:
            self.session.release(self.imapobj, broken=True)
            self.imapobj = None

    def reconnect(self) -> bool:
        self.note("reconnecting to go on with the remaining forms")
        try:
            self.connect()
            found = locate(self.imapobj, self.uid)
        except (ServerError, NotFoundError, ConnectionDropped) as error:
            self.note(f"=> could not reconnect: {error}")
            if self.imapobj is not None:
                self.session.release(self.imapobj, broken=True)
                self.imapobj = None
            return False
        if found is None:
            self.gone = True
            self.note(f"=> UID {self.uid} is no longer in the folder")
            return False
        self.msn = found.msn or self.msn
        return True

    # --- the forms --------------------------------------------------------------------------------------
    def run_forms(self) -> None:
        for number, form in enumerate(FORMS):
            if self.gone:
                self.note(f"not tried: {form.command(self.uid, self.msn)} (UID {self.uid} is gone)")
                continue
            if form.content and self.drops >= MAX_DROPS:
                self.note(f"not tried: {form.command(self.uid, self.msn)} "
                          f"(the connection dropped {self.drops} times already)")
                continue
            if form.by_sequence and not self.msn:
                self.note(f"not tried: {form.items} by sequence number (the sequence number is unknown)")
                continue
            if self.imapobj is None and not self.reconnect():
                if not self.gone:
                    self.note("stopping: no connection")
                    return
                continue
            self.note(f"{form.command(self.uid, self.msn)}" + (f": {form.why}" if form.why else ""))
            self.run_form(form, first=number == 0)

    def run_form(self, form: FetchForm, *, first: bool) -> None:
        byes_before = len(self.session.transcript.byes)
        try:
            if form.by_sequence:
                typ, data = imap_call(self.imapobj, "fetch", str(self.msn), form.items)
            else:
                typ, data = imap_call(self.imapobj, "uid", "FETCH", str(self.uid), form.items)
        except ConnectionDropped as error:
            self.dropped(str(error), byes_before)
            if first:
                self.plain = FetchAnswer(AnswerKind.DROPPED, server_said=str(error))
            return
        if not form.content:
            self.describe_metadata(form, typ, data)
            return
        answer = classify_fetch(typ, data, self.uid, by_sequence=form.by_sequence)
        if first:
            self.plain = answer
        self.describe_content(answer)
        if answer.kind is AnswerKind.NIL or self.expunge_seen():
            self.check_still_there()

    def describe_content(self, answer: FetchAnswer) -> None:
        uid = self.uid
        if answer.kind is AnswerKind.DELIVERED and answer.content is not None:
            size = len(answer.content)
            found = substitute_for(answer.content, uid)
            if found is not None:
                if self.placeholder is None:
                    self.placeholder = found
                self.note(f"=> {size} bytes: the server's substitute notice, not the message"
                          + _original_words(found))
            elif self.accept(answer.content):
                self.note(f"=> delivered: {size} bytes of the message")
            else:
                self.note(f"=> {size} bytes that offlineimap cannot parse as a message")
        elif answer.kind is AnswerKind.EMPTY:
            self.note(f"=> empty: the server answered OK but sent no data for UID {uid}")
        elif answer.kind is AnswerKind.NIL:
            self.note(f"=> NIL: the server says the content of UID {uid} is gone")
        elif answer.kind is AnswerKind.REFUSED:
            self.note(f"=> refused: {answer.server_said}")
        elif answer.kind is AnswerKind.MISMATCH:
            self.note(f"=> wrong message: {answer.server_said}")

    def describe_metadata(self, form: FetchForm, typ: str, data: list[Any]) -> None:
        if typ != "OK":
            self.note(f"=> refused: {classify_fetch(typ, data, self.uid).server_said}")
            return
        found = locate_uid(data, self.uid)
        if found is None:
            self.note(f"=> no data for UID {self.uid}")
            return
        name = form.items.strip("()")
        value = found.attributes.get(name.upper())
        self.note(f"=> {name} {value_text(value) if name.upper() in found.attributes else '(not sent)'}")

    def expunge_seen(self) -> bool:
        try:
            _typ, data = self.imapobj.response("EXPUNGE")
        except Exception:  # only a hint; the UID check below is what counts
            return False
        return any(item is not None for item in data or [])

    def check_still_there(self) -> None:
        byes_before = len(self.session.transcript.byes)
        try:
            found = locate(self.imapobj, self.uid)
        except ConnectionDropped as error:
            self.dropped(str(error), byes_before)
            return
        if found is None:
            self.gone = True
            self.note(f"=> UID {self.uid} is no longer in the folder (expunged)")
        elif found.msn:
            self.msn = found.msn

    # --- the verdict ------------------------------------------------------------------------------------
    def plain_fetch_delivers(self) -> bool:
        answer = self.plain
        return (answer is not None and answer.kind is AnswerKind.DELIVERED and answer.content is not None
                and substitute_for(answer.content, self.uid) is None and self.accept(answer.content))


def _original_words(found: PlaceholderInfo) -> str:
    original = found.original
    parts = []
    if original.subject:
        parts.append(f"subject {clean_text(original.subject, limit=120)!r}")
    if original.sender:
        parts.append(f"from {clean_text(original.sender, limit=120)}")
    if original.date:
        parts.append(f"sent {clean_text(original.date, limit=60)}")
    return f" (it names the lost mail: {', '.join(parts)})" if parts else ""


DELIVERED = "delivered"


def _verdict_line(uid: int, outcome: LadderOutcome | None) -> tuple[str, Verdict | None]:
    if outcome is None:
        return (f"verdict: {DELIVERED}: UID {uid} was delivered by the plain fetch (what offlineimap sends); "
                f"it is not a phantom"), None
    verdict = outcome.verdict
    if verdict is Verdict.RECOVERED:
        text = f"the plain fetch fails but the {outcome.recovered_by} step delivers UID {uid}; a sync recovers it"
    else:
        text = verdict.describe(f"UID {uid}")
    if outcome.placeholder is not None:
        text += _original_words(outcome.placeholder)
    if verdict in (Verdict.REFUSED, Verdict.DROPPED, Verdict.EMPTY) and outcome.server_said:
        text += f"; server said: {outcome.server_said}"
    return clean_text(f"verdict: {verdict.value}: {text}", limit=600), verdict


def run_probe(config: PhantomConfig, account: str, folder: str, uid: int) -> ProbeResult:
    """Probe ``uid`` in ``folder`` of ``account`` read-only; nothing on the server or in the store changes.

    Raises :class:`~offlineimap_phantomfix.errors.PhantomFixError` subclasses: ConfigError/NotFoundError for
    the account, ServerError when the server cannot be reached or refuses the login, NotFoundError when the
    folder does not exist or the UID is not in it.
    """
    with open_session(config, account) as session:
        transcript = session.transcript
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        transcript.note(f"offlineimap-phantomfix probe, {started}: account {account}, folder {folder}, UID {uid}")
        transcript.note(f"server {session.where}; read-only (EXAMINE, no STORE/EXPUNGE); tags renumbered; "
                        "credentials redacted")
        imapobj = session.acquire()
        state = select_folder(session, imapobj, folder, readonly=True)
        transcript.note(f"UIDVALIDITY {state.uidvalidity}, {state.exists} messages")
        accept = accepts_like_offlineimap(session.repository.getfolder(folder, decode=False))
        probe = _Probe(session, folder, uid, accept, imapobj=imapobj)
        transcript.note(f"--- where is UID {uid}?")
        try:
            found = locate(imapobj, uid)
        except ConnectionDropped as error:
            raise ServerError(f"{session.where} closed the connection while looking for UID {uid}: {error}") \
                from None
        if found is None:
            raise NotFoundError(f"no message with UID {uid} in folder {folder!r} on {session.where} "
                                f"(UIDVALIDITY {state.uidvalidity}, {state.exists} messages)")
        probe.msn = found.msn
        flags = found.attributes.get("FLAGS")
        transcript.note(f"=> UID {uid} is message {found.msn or '?'}, flags {value_text(flags)}")
        transcript.note("--- each fetch form, one at a time")
        probe.run_forms()
        if probe.imapobj is not None:
            session.release(probe.imapobj, broken=bool(getattr(probe.imapobj, "Terminate", False)))
            probe.imapobj = None
        if probe.plain_fetch_delivers():
            line, verdict = _verdict_line(uid, None)
        else:
            transcript.note("--- the fallback ladder a PhantomSafeIMAP sync runs (read-only; nothing recorded)")
            said = answer_words(probe.plain, uid) if probe.plain is not None else ""
            outcome = run_ladder(PoolSource(session.server, state.mailbox), uid, accept=accept, first_said=said)
            transcript.note(f"=> ladder: {outcome.verdict.value} after {outcome.commands} commands, "
                            f"{outcome.drops} dropped connections")
            line, verdict = _verdict_line(uid, outcome)
        line = transcript.scrub(line)
        transcript.note(line)
    return ProbeResult(transcript=transcript.render(), verdict=line, outcome=verdict, delivered=verdict is None)
