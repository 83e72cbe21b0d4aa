"""Glue: the ``PhantomSafeIMAP`` and ``PhantomSafeGmail`` repository types.

They are offlineimap's own IMAP and Gmail repositories plus: the ``phantom_*`` options, the store and the
quarantine (opened on first use), the verdict bookkeeping the folders call into, and a summary plus report
file at the end of each account sync.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from offlineimap import OfflineImapError
from offlineimap.repository.Gmail import GmailRepository
from offlineimap.repository.IMAP import IMAPRepository

from offlineimap_phantomfix import clock, report
from offlineimap_phantomfix.errors import PhantomFixError
from offlineimap_phantomfix.folder import PhantomSafeGmailFolder, PhantomSafeIMAPFolder
from offlineimap_phantomfix.notice import known_original
from offlineimap_phantomfix.options import parse_options, state_directory
from offlineimap_phantomfix.quarantine import GONE_NOTE, Kept, Quarantine, build_notice, resolve_records
from offlineimap_phantomfix.recovery import LadderOutcome
from offlineimap_phantomfix.sanitize import clean_text, safe_name, unsafe_folder_name
from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.verdicts import MessageKey, PhantomAction, PhantomRecord, Verdict


class PhantomSafeRepositoryMixin:
    """Everything the two repository types add; mixed in front of offlineimap's class."""

    folder_class: type = PhantomSafeIMAPFolder

    def __init__(self, reposname: str, account: Any) -> None:
        super().__init__(reposname, account)  # type: ignore[call-arg]
        section = f"Repository {reposname}"
        config = account.getconfig()
        try:
            # Only the phantom_* keys: config.items() would interpolate every option, and a '%' in remotepass
            # is offlineimap's own business, not a reason for us to fail the repository.
            values = {key: config.get(section, key) for key in config.options(section)
                      if key.lower().startswith("phantom_")}
            self.phantom_options = parse_options(values, section=section)
        except PhantomFixError as error:
            raise OfflineImapError(str(error), OfflineImapError.ERROR.REPO) from None
        metadata = os.path.expandvars(os.path.expanduser(config.getdefault("general", "metadata", "~/.offlineimap")))
        self.phantom_state_dir = state_directory(Path(metadata), self.phantom_options)
        self._phantom_lock = threading.Lock()
        self._phantom_store: PhantomStore | None = None
        self._phantom_refused: set[str] = set()
        self._phantom_sync_started = clock.now()

    # --- offlineimap interface -------------------------------------------------------------------------
    def getfoldertype(self) -> type:
        return self.folder_class

    def forgetfolders(self) -> None:
        """Runs at the end of every account sync: say what happened and rewrite the report."""
        try:
            self.phantom_end_of_sync()
        finally:
            super().forgetfolders()  # type: ignore[misc]

    def should_sync_folder(self, fname: str) -> bool:
        """offlineimap's folder filter, after refusing names that cannot safely be a local folder (a ``..``
        stops the whole account's sync in offlineimap, control characters reach the terminal)."""
        problem = unsafe_folder_name(fname, getattr(self.imapserver, "delim", None))  # type: ignore[attr-defined]
        if problem is None:
            return bool(super().should_sync_folder(fname))  # type: ignore[misc]
        with self._phantom_lock:
            first = fname not in self._phantom_refused
            self._phantom_refused.add(fname)
        if first:
            self._phantom_warn(f"not syncing the server folder {clean_text(fname, limit=80)!r}: {problem}")
        return False

    # --- state ----------------------------------------------------------------------------------------
    @property
    def phantom_dry_run(self) -> bool:
        return bool(getattr(self.account, "dryrun", False))  # type: ignore[attr-defined]

    @property
    def phantom_account(self) -> str:
        return str(self.account.getname())  # type: ignore[attr-defined]

    def phantom_store(self, *, create: bool = True) -> PhantomStore | None:
        """The store, opened once; with ``create=False`` (dry runs) only when it already exists."""
        with self._phantom_lock:
            if self._phantom_store is None:
                if not create and not (self.phantom_state_dir / STORE_FILENAME).exists():
                    return None
                self._phantom_store = PhantomStore(self.phantom_state_dir, warn=self._phantom_warn)
            return self._phantom_store

    @property
    def phantom_tag(self) -> str:
        """How each of our log lines starts: ``phantomfix: [Work]``, so two accounts' lines can be told apart."""
        return f"phantomfix: [{self.phantom_account}]"

    def _phantom_warn(self, message: str) -> None:
        self.ui.warn(f"{self.phantom_tag} {message}")  # type: ignore[attr-defined]

    def phantom_key(self, folder: Any, uid: int) -> MessageKey:
        return MessageKey(self.phantom_account, self.getname(), folder.getname(),  # type: ignore[attr-defined]
                          int(folder.get_uidvalidity()), int(uid))

    def phantom_skip_set(self, folder: Any) -> frozenset[int]:
        """UIDs of this folder that later syncs must not fetch (for the current UIDVALIDITY); none with
        ``phantom_action = retry``, whatever earlier syncs under another action recorded."""
        if self.phantom_options.action is PhantomAction.RETRY:
            return frozenset()
        try:
            store = self.phantom_store(create=not self.phantom_dry_run)
            if store is None:
                return frozenset()
            return store.skipped_uids(self.phantom_account, self.getname(), folder.getname(),  # type: ignore[attr-defined]
                                      int(folder.get_uidvalidity()),
                                      retry_after=self.phantom_options.retry_after)
        except PhantomFixError as error:
            self._phantom_warn(f"skip list unavailable, every message will be fetched: {error}")
            return frozenset()

    def phantom_open_records(self, folder: Any) -> dict[int, PhantomRecord]:
        """Records of this folder (current UIDVALIDITY) that are not yet ``recovered``, purged or not, by UID:
        the ones a delivery must heal."""
        try:
            store = self.phantom_store(create=False)
            if store is None or self.phantom_dry_run:
                return {}
            uidvalidity = int(folder.get_uidvalidity())
            return {r.key.uid: r for r in store.records(account=self.phantom_account, folder=folder.getname())
                    if r.key.repository == self.getname() and r.key.uidvalidity == uidvalidity  # type: ignore[attr-defined]
                    and r.verdict is not Verdict.RECOVERED}
        except PhantomFixError:
            return {}  # phantom_skip_set has said so already

    def phantom_heal(self, record: PhantomRecord, how: str) -> None:
        """A recorded message was delivered after all: it is ``recovered`` now, and no longer skipped."""
        key = record.key
        try:
            store = self.phantom_store()
            assert store is not None
            store.record(key, Verdict.RECOVERED, skipped=False, recovered_by=how, server_said=record.server_said)
        except PhantomFixError as error:
            self._phantom_warn(f"{key.folder} UID {key.uid} was synced, but its record still says it is not: "
                               f"{error}")

    def phantom_conclude(self, key: MessageKey, outcome: LadderOutcome) -> PhantomRecord | None:
        """Record a verdict and quarantine what there is to keep. Returns the record (None in dry runs)."""
        if self.phantom_dry_run:
            return None
        options = self.phantom_options
        served = outcome.content if outcome.verdict is Verdict.UNPARSEABLE else None
        original = known_original(outcome.verdict, outcome.evidence, outcome.original, served)
        try:
            store = self.phantom_store()
            assert store is not None
            previous = store.get(key)
            if outcome.verdict is Verdict.VANISHED and previous is not None and \
                    previous.verdict is Verdict.VANISHED:
                # "Expunged" once more, yet listed again by this sync: the server lists it and will not send it.
                outcome.verdict = Verdict.EMPTY
                outcome.evidence.notes.append("expunged on an earlier sync, yet listed again")
            skipped = outcome.verdict.is_phantom and options.action is not PhantomAction.RETRY and \
                not (outcome.verdict.may_pass and (previous is None or not previous.verdict.is_phantom))
            # an item already there (kept before a `clear`, or written by a sync killed before its record)
            kept = self._phantom_kept(key) if previous is None or not previous.quarantine else None
            quarantine_path = str(kept.path) if kept is not None else None
            if outcome.verdict.is_phantom and options.action is PhantomAction.QUARANTINE and kept is None and \
                    (previous is None or not previous.quarantine):
                quarantine_path = self._phantom_quarantine(key, outcome)
            return store.record(
                key, outcome.verdict, skipped=skipped, server_said=outcome.server_said,
                recovered_by=outcome.recovered_by, quarantine=quarantine_path,
                original=original if original is not None and not original.is_empty() else None,
                size=outcome.evidence.size, flags=outcome.evidence.flags,
                first_seen=kept.first_seen if kept is not None else None,
            )
        except PhantomFixError as error:  # the sync goes on; this message is simply tried again next time
            self._phantom_warn(f"could not record {key.folder} UID {key.uid}: {error}")
            return None

    def _phantom_kept(self, key: MessageKey) -> Kept | None:
        return Quarantine(self.phantom_state_dir / "quarantine").find(key)

    def _phantom_quarantine(self, key: MessageKey, outcome: LadderOutcome) -> str | None:
        served = outcome.verdict in (Verdict.PLACEHOLDER, Verdict.UNPARSEABLE) and outcome.content is not None
        content = build_notice(key, outcome.verdict, outcome.evidence, original=outcome.original,
                               server_message=outcome.content if served else None)  # kept byte for byte
        try:
            return str(Quarantine(self.phantom_state_dir / "quarantine").deliver(key.account, content, key))
        except PhantomFixError as error:
            self._phantom_warn(f"could not quarantine {key.folder} UID {key.uid}: {error}")
            return None

    def phantom_end_of_sync(self) -> None:
        started, self._phantom_sync_started = self._phantom_sync_started, clock.now()
        if self.phantom_dry_run:
            return
        try:
            store = self.phantom_store(create=False)
            if store is None:
                return
            records = store.records(account=self.phantom_account)
            mine = [r for r in records if r.key.repository == self.getname()]  # type: ignore[attr-defined]
            line, news = report.sync_line(mine, since=started, account=self.phantom_account,
                                          retry_after=self.phantom_options.retry_after)
            if line:
                # News is a warning, so offlineimap -u quiet (cron) prints it; a sync with nothing new stays
                # at info level and a quiet run prints nothing.
                say = self.ui.warn if news else self.ui.info  # type: ignore[attr-defined]
                say(f"{self.phantom_tag} {line}")
            self._phantom_write_report(records)
        except PhantomFixError as error:
            self._phantom_warn(f"could not write the report: {error}")

    def _phantom_write_report(self, records: list[PhantomRecord]) -> None:
        target = self.phantom_state_dir / f"report-{safe_name(self.phantom_account)}.txt"
        temporary = target.with_name(target.name + ".tmp")
        text = report.render_text(resolve_records(records, gone=GONE_NOTE), account=self.phantom_account)
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, target)
        except OSError as error:
            raise PhantomFixError(f"cannot write {target}: {error.strerror}") from None


class PhantomSafeIMAPRepository(PhantomSafeRepositoryMixin, IMAPRepository):
    """``type = PhantomSafeIMAP``: offlineimap's IMAP repository that survives phantom messages."""

    folder_class = PhantomSafeIMAPFolder


class PhantomSafeGmailRepository(PhantomSafeRepositoryMixin, GmailRepository):
    """``type = PhantomSafeGmail``: offlineimap's Gmail repository that survives phantom messages."""

    folder_class = PhantomSafeGmailFolder
