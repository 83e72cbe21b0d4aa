"""Glue: the folder classes. ``getmessage`` detects a phantom and runs the ladder; ``copymessageto`` skips
recorded phantoms and turns a handled phantom into one warning line instead of an error.

Both call ``super()``: everything else is offlineimap's own IMAP (or Gmail) folder.
"""

from __future__ import annotations

import threading
from typing import Any

from imaplib2 import IMAP4
from offlineimap import OfflineImapError
from offlineimap.folder.Gmail import GmailFolder
from offlineimap.folder.IMAP import IMAPFolder

from offlineimap_phantomfix.imapconn import PoolSource, accepts_like_offlineimap, parse_like_offlineimap
from offlineimap_phantomfix.placeholder import substitute_for
from offlineimap_phantomfix.recheck import (
    PLAIN_ITEMS,
    SEQUENCE_ITEMS,
    SET_VERDICTS,
    Recheck,
    judge,
    read_by_sequence,
    read_by_uid,
    uid_set,
)
from offlineimap_phantomfix.recovery import ConnectionDropped, LadderOutcome, run_ladder
from offlineimap_phantomfix.report import local_time, zone_label
from offlineimap_phantomfix.responses import imaplib2_error_words
from offlineimap_phantomfix.said import SUBSTITUTE_NOTICE, offlineimap_failure_words
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import PhantomAction, PhantomRecord, Verdict

_PLACEHOLDER_SUBJECT_HINT = "protocol failed for the following message"
_NOT_FETCHED = object()

class PhantomHandled(OfflineImapError):
    """Raised by ``getmessage`` when a message was judged a phantom (or vanished) and has been dealt with."""

    def __init__(self, outcome: LadderOutcome, record: PhantomRecord | None, text: str) -> None:
        super().__init__(text, OfflineImapError.ERROR.MESSAGE)
        self.outcome = outcome
        self.record = record


class PhantomSafeFolderMixin:
    """Mixed in front of offlineimap's ``IMAPFolder`` (or ``GmailFolder``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The ladder retries on a fresh connection itself; offlineimap 8.0.3's own retry after a dropped
        # connection raises TypeError (a format-string bug) and kills the folder thread.
        self.retrycount = 1
        self._phantom_skip: frozenset[int] = frozenset()
        user = getattr(self, "copy_ignoreUIDs", None)  # copy_ignore_eval's UIDs: any iterable, read once
        self._phantom_user_ignore: list[Any] | None = None if user is None else list(user)
        self._phantom_open: dict[int, PhantomRecord] = {}  # recorded, not yet recovered: healed when delivered
        self._phantom_prefetched: dict[int, object] = {}
        self._phantom_recheck: Recheck | None = None  # the answer of this sync's set fetches of due records
        self._phantom_whole_list = False
        self._phantom_lock = threading.Lock()
        self._phantom_recheck_lock = threading.Lock()

    # --- message list -----------------------------------------------------------------------------------
    def cachemessagelist(self, min_date: Any = None, min_uid: Any = None) -> None:
        self._phantom_check_uidvalidity()
        super().cachemessagelist(min_date=min_date, min_uid=min_uid)  # type: ignore[misc]
        # offlineimap listed 1:* (no SEARCH): a message's rank in the list is its sequence number.
        self._phantom_whole_list = min_date is None and min_uid is None and \
            self.getmaxsize() is None  # type: ignore[attr-defined]
        # Skipped UIDs stay in the message list, so a skip is never mistaken for a deletion.
        self._phantom_skip = self.repository.phantom_skip_set(self)  # type: ignore[attr-defined]
        # offlineimap's own "do not copy" list: it logs "IGNORED: Copy message UID n" instead of pretending to
        # copy a skipped phantom on every sync. The user's copy_ignore_eval UIDs stay in it.
        user = self._phantom_user_ignore
        extra = sorted(self._phantom_skip.difference(user or []))
        self.copy_ignoreUIDs = None if user is None and not extra else [*(user or []), *extra]
        self._phantom_open = self.repository.phantom_open_records(self)  # type: ignore[attr-defined]
        self._phantom_recheck = None

    def _phantom_check_uidvalidity(self) -> None:
        # offlineimap 8.0.3 announces "skipping it" on a UIDVALIDITY change and then syncs anyway: every local
        # message of the old numbering is deleted and the renumbered ones fetched again, so a local copy of a
        # message that is now a phantom is lost. Stop this folder instead, as offlineimap means to.
        saved = self.get_saveduidvalidity()  # type: ignore[attr-defined]
        current = self.get_uidvalidity()  # type: ignore[attr-defined]
        if saved is not None and saved != current:
            raise OfflineImapError(
                f"phantomfix: UIDVALIDITY of {self} changed (saved {saved}, now {current}): folder not synced, "
                "no local message deleted; see offlineimap's manual on UID validity",
                OfflineImapError.ERROR.FOLDER)

    # --- copying ------------------------------------------------------------------------------------------
    def copymessageto(self, uid: int, dstfolder: Any, statusfolder: Any, register: int = 1) -> None:
        ui = self.ui  # type: ignore[attr-defined]
        if register:
            ui.registerthread(self.repository.account)  # type: ignore[attr-defined]
        if uid in self._phantom_skip:
            ui.debug("imap", f"phantomfix: not fetching UID {uid} of {self}: recorded phantom, skipped")
            return
        if dstfolder.storesmessages():
            if uid in self._phantom_open:
                self._phantom_check_due()
            try:
                message: object = self.getmessage(uid)
            except PhantomHandled as handled:
                if self._phantom_is_error(handled):
                    ui.error(handled)  # offlineimap's error status at the end of the run
                else:
                    self._phantom_tell(uid, handled)
                return
            except Exception as error:  # leave every other failure to offlineimap's own handling
                message = error
            with self._phantom_lock:
                self._phantom_prefetched[uid] = message
        try:
            super().copymessageto(uid, dstfolder, statusfolder, register=0)  # type: ignore[misc]
        finally:
            with self._phantom_lock:
                self._phantom_prefetched.pop(uid, None)

    def _phantom_is_error(self, handled: PhantomHandled) -> bool:
        """A phantom not recorded (the store is unusable) or kept with ``phantom_action = retry`` is an error:
        the sync must not end with status 0 as if nothing were missing."""
        if not handled.outcome.verdict.is_phantom:
            return False
        repository = self.repository  # type: ignore[attr-defined]
        if handled.record is None:
            return not repository.phantom_dry_run
        return bool(repository.phantom_options.action is PhantomAction.RETRY)

    def _phantom_tell(self, uid: int, handled: PhantomHandled) -> None:
        ui = self.ui  # type: ignore[attr-defined]
        if handled.outcome.verdict is Verdict.VANISHED:
            ui.info(f"{self.repository.phantom_tag} UID {uid} of {self} was expunged on the server during the sync")  # type: ignore[attr-defined]
        else:  # a skipped phantom is not fetched again: each line is news (new, confirmed, due again)
            ui.warn(str(handled))

    # --- fetching -----------------------------------------------------------------------------------------
    def getmessage(self, uid: int) -> Any:
        with self._phantom_lock:
            prefetched = self._phantom_prefetched.pop(uid, _NOT_FETCHED)
        if isinstance(prefetched, BaseException):
            raise prefetched
        if prefetched is not _NOT_FETCHED:
            return prefetched
        if uid in self._phantom_open:  # no lock on the healthy path: a plain dict lookup
            rechecked = self._phantom_rechecked(uid)
            if rechecked is not None:
                return rechecked
        dropped = False
        try:
            message = super().getmessage(uid)  # type: ignore[misc]
        except OfflineImapError as error:
            if error.severity > OfflineImapError.ERROR.MESSAGE:
                raise
            failure = str(error)
            # offlineimap raises its error while handling imaplib2's abort: the server closed the connection.
            dropped = isinstance(error.__context__, IMAP4.abort)
            said = offlineimap_failure_words(failure, dropped=dropped)
        except IMAP4.error as error:  # a tagged BAD escapes offlineimap's fetch as a raw imaplib2 error
            status, words = imaplib2_error_words(str(error))
            failure = said = f"{status} {words}".strip()
        else:
            if not self._phantom_is_substitute(message, uid):
                self._phantom_healed(uid)
                return message
            failure = "the server returned its substitute notice instead of the message"
            said = SUBSTITUTE_NOTICE
        record = self._phantom_open.get(uid)
        if record is not None and ((dropped and record.verdict is Verdict.DROPPED) or
                                   (not dropped and record.verdict is Verdict.REFUSED and _refusal(said))):
            self._phantom_unchanged(uid)  # refused or dropped again, just as recorded: no ladder
        return self._phantom_recover(uid, clean_text(failure, limit=300), said, dropped=dropped)

    # --- due records, re-checked together -------------------------------------------------------------------
    def _phantom_check_due(self) -> None:
        """Once per sync, at the first due record: two set fetches for every due record of this folder whose
        verdict allows it (:mod:`recheck`). A failure of either just leaves each to the usual way."""
        with self._phantom_recheck_lock:  # not the dict lock: other threads go on while this one waits
            if self._phantom_recheck is not None:
                return
            self._phantom_recheck = Recheck()
            listed = self.getmessagelist()  # type: ignore[attr-defined]
            with self._phantom_lock:
                records = list(self._phantom_open.items())
            due = {uid: record.verdict for uid, record in records
                   if record.verdict in SET_VERDICTS and uid not in self._phantom_skip and uid in listed}
            if not due:
                return
            accept = accepts_like_offlineimap(self)
            source = PoolSource(self.imapserver, self.getfullIMAPname())  # type: ignore[attr-defined]
            try:
                connection = source.open()
            except ConnectionDropped:
                return
            broken = True
            try:
                plain = read_by_uid(*connection.uid_fetch_set(uid_set(due), PLAIN_ITEMS), due, accept)
                rest = [uid for uid, answer in plain.items() if answer is not None and not isinstance(answer, bytes)]
                expected = self._phantom_sequence_numbers(rest, listed)
                sequence = read_by_sequence(*connection.seq_fetch_set(uid_set(expected), SEQUENCE_ITEMS),
                                            expected, accept) if expected else {}
                broken = False
            except ConnectionDropped:
                return
            finally:
                source.release(connection, broken=broken)
            recheck = judge(due, plain, sequence)
            with self._phantom_lock:
                self._phantom_recheck = recheck

    def _phantom_sequence_numbers(self, uids: list[int], listed: Any) -> dict[int, int]:
        """Sequence number -> UID, from the message list when it holds the whole folder (offlineimap listed
        ``1:*``); empty otherwise. Each answer is checked against its UID, so a folder changed since is safe."""
        if not uids or not self._phantom_whole_list:
            return {}
        rank = {uid: index for index, uid in enumerate(sorted(listed), start=1)}
        return {rank[uid]: uid for uid in uids}

    def _phantom_rechecked(self, uid: int) -> Any:
        """The message when a set fetch delivered it (healed); PhantomHandled when it answered as its verdict
        says; None when it goes the usual way."""
        with self._phantom_lock:
            recheck = self._phantom_recheck
            delivered = recheck.delivered.pop(uid, None) if recheck is not None else None
            unchanged = recheck is not None and uid in recheck.unchanged
            if recheck is not None:
                recheck.unchanged.discard(uid)
        if delivered is not None:
            message = parse_like_offlineimap(self, delivered[0])
            self._phantom_healed(uid, delivered[1])
            return message
        if unchanged:
            self._phantom_unchanged(uid)
        return None

    def _phantom_unchanged(self, uid: int) -> None:
        """Record the verdict once more (one more attempt, skipped as the options say) and tell it."""
        with self._phantom_lock:
            record = self._phantom_open.pop(uid)
        outcome = LadderOutcome(record.verdict)
        if record.server_said:
            outcome.evidence.server_said.append(record.server_said)
        stored = self.repository.phantom_conclude(record.key, outcome)  # type: ignore[attr-defined]
        raise PhantomHandled(outcome, stored, self._phantom_sentence(uid, outcome, stored))

    def _phantom_healed(self, uid: int, how: str | None = None) -> None:
        with self._phantom_lock:
            record = self._phantom_open.pop(uid, None)
        if record is None:
            return
        how = how or ("plain fetch after retry" if record.skipped else "plain fetch")
        self.repository.phantom_heal(record, how)  # type: ignore[attr-defined]
        self.ui.info(f"{self.repository.phantom_tag} UID {uid} of {self} was {record.verdict.value}; "  # type: ignore[attr-defined]
                     f"the {how} now delivers it: synced, recorded as recovered")

    def _phantom_is_substitute(self, message: Any, uid: int) -> bool:
        # raw_items() skips the policy's header parsing: this check runs on every fetched message.
        subject = next((str(value) for name, value in message.raw_items() if name.lower() == "subject"), "")
        if _PLACEHOLDER_SUBJECT_HINT not in " ".join(subject.split()):
            return False
        raw = message.as_bytes(policy=self.policy["8bit-RFC"])  # type: ignore[attr-defined]
        return substitute_for(raw, uid) is not None

    def _phantom_recover(self, uid: int, failure: str, said: str, *, dropped: bool = False) -> Any:
        """The ladder after the plain fetch failed: ``failure`` is offlineimap's line for it (for the log),
        ``said`` what the server answered it (the first words of the record's "server said")."""
        repository = self.repository  # type: ignore[attr-defined]
        source = PoolSource(self.imapserver, self.getfullIMAPname())  # type: ignore[attr-defined]
        outcome = run_ladder(source, uid, accept=accepts_like_offlineimap(self), first_said=said,
                             first_dropped=dropped)
        key = repository.phantom_key(self, uid)
        record = repository.phantom_conclude(key, outcome)
        with self._phantom_lock:
            self._phantom_open.pop(uid, None)
        if outcome.verdict is Verdict.RECOVERED and outcome.content is not None:
            self.ui.info(  # type: ignore[attr-defined]
                f"{repository.phantom_tag} UID {uid} of {self} recovered by {outcome.recovered_by} after: {failure}")
            return parse_like_offlineimap(self, outcome.content)
        raise PhantomHandled(outcome, record, self._phantom_sentence(uid, outcome, record))

    def _phantom_sentence(self, uid: int, outcome: LadderOutcome, record: PhantomRecord | None) -> str:
        verdict = outcome.verdict
        text = f"{self.repository.phantom_tag} {self} UID {uid}: {verdict.value}: {verdict.describe('the message')}"  # type: ignore[attr-defined]
        if outcome.original is not None and outcome.original.subject:
            text += f" (lost mail: {outcome.original.subject!r})"
        if record is None:
            if self.repository.phantom_dry_run:  # type: ignore[attr-defined]
                return text + " [dry run: nothing recorded]"
            return text + " [not recorded: the skip list is unavailable]"
        if record.quarantine:
            text += "; quarantined"
        if record.skipped:
            retry_after = self.repository.phantom_options.retry_after  # type: ignore[attr-defined]
            if retry_after is None:
                text += "; skipped until cleared"
            else:
                due = record.last_seen + retry_after
                text += f"; skipped until {local_time(due)} {zone_label(due)}"
        text += "; see 'offlineimap-phantomfix report'"
        return text


def _refusal(said: str) -> bool:
    """Did the server answer the plain fetch with a tagged NO or BAD?"""
    return said.split(" ", 1)[0] in ("NO", "BAD")


class PhantomSafeIMAPFolder(PhantomSafeFolderMixin, IMAPFolder):
    """offlineimap's IMAP folder that survives phantoms."""


class PhantomSafeGmailFolder(PhantomSafeFolderMixin, GmailFolder):
    """offlineimap's Gmail folder that survives phantoms."""


__all__ = ["PhantomHandled", "PhantomSafeGmailFolder", "PhantomSafeIMAPFolder"]
