"""Glue: open an IMAP connection for an account exactly as offlineimap does, and record what is said on it.

:func:`open_session` builds offlineimap's own ``Account`` and remote repository from the user's offlineimaprc,
so host, port, ``ssl``/``starttls``, certificates, ``auth_mechanisms``, ``remotepass``/``remotepassfile``/
``remotepasseval`` (with ``[general] pythonfile``), netrc and ``socktimeout`` all behave as in a sync, and
takes connections from that repository's ``IMAPServer`` pool. offlineimap runs with a quiet UI of ours: it
never prompts for a password (no password configured is a one-line :class:`ConfigError`) and never prints.

Every byte sent and received on those connections is recorded (:mod:`recording`) into a
:class:`~offlineimap_phantomfix.transcript.Transcript` (pure: bytes in, redacted text out). Password sources
and ``pythonfile`` are wrapped by :mod:`credentials`, so their failures are named as such and every secret is
scrubbed. offlineimap works on a private copy of the configuration whose ``metadata`` is a temporary directory.
"""

from __future__ import annotations

import configparser
import copy
import logging
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from offlineimap_phantomfix.config import interpolation_text
from offlineimap_phantomfix.credentials import (
    PasswordSourceFailed,
    describe_error,
    first_line,
    guard_secrets,
    load_pythonfile,
)
from offlineimap_phantomfix.errors import ConfigError, NotFoundError, PhantomFixError, ServerError
from offlineimap_phantomfix.imapconn import imap_call, timeout_words
from offlineimap_phantomfix.recording import NoPassword, current, make_ui, recording
from offlineimap_phantomfix.responses import FetchResponse, locate_uid, search_has_uid, server_words
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.transcript import REDACTED, Transcript

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig

__all__ = [
    "REDACTED",
    "FolderState",
    "Session",
    "Transcript",
    "locate",
    "open_session",
    "select_folder",
]

DEFAULT_TIMEOUT = 60.0  # seconds without an answer before a connection counts as dropped (no socktimeout)
_latest: list[Transcript] = []  # the transcript of the session opened last (what an interrupt reports on)


# --- the session ----------------------------------------------------------------------------------------------

@dataclass
class FolderState:
    mailbox: str  # as sent to the server (quoted when needed)
    uidvalidity: int | None
    exists: int | None


class Session:
    """offlineimap's remote repository for one account, its connection pool, and the transcript."""

    def __init__(self, config: PhantomConfig, account: str, transcript: Transcript, parser: Any = None) -> None:
        self.config = config
        self.parser = parser if parser is not None else config.parser
        self.account_name = account
        self.transcript = transcript
        self.account: Any = None
        self.repository: Any = None
        self.server: Any = None
        self.host = ""
        self.port: int | str = ""
        self.security = ""
        self.user = ""
        self._held: list[Any] = []

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}" if self.host else "the tunnel"

    def _build(self) -> None:
        from offlineimap import OfflineImapError
        from offlineimap.accounts import Account
        from offlineimap.repository import Repository

        from offlineimap_phantomfix.activation import install

        install()
        problems = self.config.option_problems(self.account_name)
        if problems:
            raise ConfigError(problems[0])
        load_pythonfile(self.parser)
        try:
            self.account = Account(self.parser, self.account_name)
            self.repository = Repository(self.account, "remote")
        except configparser.InterpolationError as error:
            raise ConfigError(interpolation_text(error.section, error.option)) from None
        except OfflineImapError as error:
            raise ConfigError(f"account {self.account_name!r}: {first_line(str(error))}") from None
        except Exception as error:  # offlineimap reads some values with int()/getboolean() and no message of its own
            raise ConfigError(f"account {self.account_name!r}: offlineimap cannot use this configuration: "
                              f"{first_line(describe_error(error))}") from None
        server = getattr(self.repository, "imapserver", None)
        if server is None:
            raise ConfigError(f"account {self.account_name!r}: the remote repository is not an IMAP repository")
        self.server = server
        guard_secrets(server, self.repository, self.transcript)
        self.host = str(server.hostname or "")
        self.port = server.port if server.port is not None else ""
        self.user = str(server.username or "")
        # offlineimap 8.0's STARTTLS passes no CA to imaplib2: the certificate is not checked (ssl = yes checks it)
        self.security = "TLS" if server.usessl else (
            "STARTTLS, certificate not checked by offlineimap" if server.starttls else "plaintext")
        if not self.host and not getattr(server, "tunnel", None):
            raise ConfigError(f"[Repository {self.repository.getname()}] remotehost is not set (nor a tunnel)")

    def imap_name(self, folder: str) -> str:
        """The mailbox name to send for an offlineimap folder name (utf8foldernames and quoting as a sync)."""
        from offlineimap import imaputil

        name = folder
        if getattr(self.account, "utf_8_support", False) or not folder.isascii():
            name = imaputil.utf8_IMAP(name)  # IMAP names are modified UTF-7: a non-ASCII name cannot go as it is
        return str(imaputil.foldername_to_imapname(name))

    def acquire(self) -> Any:
        """A logged-in connection from the pool (new ones are recorded). Raises ServerError/ConfigError."""
        from offlineimap import OfflineImapError

        transcript = self.transcript
        failures_before = len(transcript.failures())
        try:
            imapobj = self.server.acquireconnection()
        except NoPassword:
            raise self._no_password("") from None
        except PasswordSourceFailed as failed:
            raise ConfigError(f"cannot get the password for {self.user or 'the user'} at {self.where}: "
                              f"{failed}") from None
        except ModuleNotFoundError as error:
            if error.name != "keyring":  # offlineimap's last password source; without it, it crashes
                raise
            raise self._no_password(" (and the keyring module is not installed)") from None
        except OfflineImapError as error:
            raise self._connect_error(str(error), failures_before) from None
        except PhantomFixError:
            raise
        except Exception as error:  # imaplib2 abort/error, socket errors, ssl errors: all mean "cannot connect"
            if type(error).__module__.startswith("keyring"):  # installed, but with no backend to ask
                raise self._no_password(" (and keyring has no usable backend)") from None
            raise self._connect_error(describe_error(error), failures_before) from None
        finally:
            self._learn_password()
        self._held.append(imapobj)
        return imapobj

    def _no_password(self, extra: str) -> ConfigError:
        return ConfigError(
            f"no password for {self.user or 'the user'} at {self.where} in the configuration "
            f"(remotepass, remotepassfile, remotepasseval or netrc){extra}; offlineimap-phantomfix cannot prompt")

    def _learn_password(self) -> None:
        server = self.server
        for value in (getattr(server, "password", None), getattr(server, "goodpassword", None)):
            if isinstance(value, str):
                self.transcript.add_secret(value, user=self.user)

    def _connect_error(self, text: str, failures_before: int) -> PhantomFixError:
        transcript = self.transcript
        failures = transcript.failures()[failures_before:]
        tried_login = "authentication" in text.lower() or "login" in text.lower()
        if failures and tried_login:
            words = "; ".join(dict.fromkeys(failures))
            return ServerError(f"login to {self.where} as {self.user} failed: {words}")
        if tried_login:
            return ServerError(f"login to {self.where} as {self.user} failed: {transcript.scrub(first_line(text))}")
        if "getaddrinfo returns an empty list" in text and self.host:  # rfc6555 dropped the real reason
            text = self._plain_connect_failure() or text
        if "refused" in text.lower():
            return ServerError(f"cannot connect to {self.where}: connection refused")
        timeout = timeout_words(text)
        if timeout is not None:
            return ServerError(f"cannot connect to {self.where}: {timeout} (timed out, not refused)")
        return ServerError(f"cannot connect to {self.where}: {transcript.scrub(first_line(_one_fingerprint(text)))}")

    def _plain_connect_failure(self) -> str:
        """Why a plain TCP connection to the server fails now ('' when it does not fail)."""
        try:
            with socket.create_connection((self.host, int(self.port or 0)), timeout=socket.getdefaulttimeout()):
                return ""
        except OSError as error:
            return describe_error(error)

    def release(self, imapobj: Any, *, broken: bool = False) -> None:
        """Hand a connection back to the pool; a broken (or terminated) one is logged out and forgotten."""
        if imapobj in self._held:
            self._held.remove(imapobj)
        dead = broken or bool(getattr(imapobj, "Terminate", False))
        try:
            self.server.releaseconnection(imapobj, dead)
        except Exception:  # logging out of a dead connection may fail; it is gone either way
            pass

    def close(self) -> None:
        for imapobj in list(self._held):
            self.release(imapobj, broken=True)
        if self.server is not None:
            try:
                self.server.close()
            except Exception:  # best effort: the connections are being dropped anyway
                pass


_FINGERPRINTS = re.compile(r"fingerprint\(s\) '\[.*?\('(?:openssl_)?sha256', '([0-9a-f]+)'\).*?\]'", re.DOTALL)


def _one_fingerprint(text: str) -> str:
    """offlineimap's fingerprint mismatch lists five hashes before saying what is wrong: keep the SHA-256."""
    return _FINGERPRINTS.sub(lambda match: f"fingerprint (sha256) {match.group(1)}", text)


def _socket_timeout(parser: Any) -> float:
    try:
        configured = int(parser.getdefaultint("general", "socktimeout", 0))
    except (ValueError, TypeError):
        configured = 0
    return float(configured) if configured > 0 else DEFAULT_TIMEOUT


@contextmanager
def open_session(config: PhantomConfig, account: str, *, description: str = "",
                 real_metadata: bool = False) -> Iterator[Session]:
    """A :class:`Session` for ``account``; its connections are recorded and all closed on exit.

    While it is open, offlineimap's global UI is ours and the module-level socket timeout is the configured
    ``socktimeout`` (or :data:`DEFAULT_TIMEOUT`); both are restored afterwards. offlineimap works on a copy of
    the configuration whose ``metadata`` is a temporary directory: building its account and repositories
    creates directories there, and nothing of the user's is written. ``real_metadata`` keeps the user's own
    ``metadata`` instead, for a command that must read offlineimap's state there (``adopt``: its status, its
    saved UIDVALIDITY, its account lock).
    """
    config.check_account(account)
    if real_metadata:
        with _opened(config, account, copy.deepcopy(config.parser), description) as session:
            yield session
        return
    with tempfile.TemporaryDirectory(prefix="phantomfix-session-") as metadata:
        parser = copy.deepcopy(config.parser)
        parser.set("general", "metadata", metadata)
        with _opened(config, account, parser, description) as session:
            yield session


@contextmanager
def _opened(config: PhantomConfig, account: str, parser: Any, description: str) -> Iterator[Session]:
    from offlineimap.ui import UIBase as uibase

    for option in ("dry-run", "ignore-keyring", "update-keyring"):  # what offlineimap's init sets by default
        parser.set_if_not_exists("general", option, "False")
    transcript = Transcript()
    _latest[:] = [transcript]
    previous_ui = uibase.getglobalui() if hasattr(uibase, "globalui") else None
    logger = logging.getLogger("OfflineImap")
    previous_level = logger.level
    ui = make_ui(parser, transcript)
    uibase.setglobalui(ui)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_socket_timeout(parser))
    session = Session(config, account, transcript, parser)
    try:
        with recording(transcript, description):
            session._build()
            current.description = description or f"to {session.where} ({session.security})"
            try:
                yield session
            finally:
                session.close()
    finally:
        socket.setdefaulttimeout(previous_timeout)
        logger.removeHandler(ui._log_con_handler)
        logger.setLevel(previous_level)
        if previous_ui is not None:  # else ours stays: imaplib2 reader threads that end late still log through it
            uibase.setglobalui(previous_ui)


def latest_transcript() -> Transcript | None:
    """The transcript of the session opened last in this process, or None."""
    return _latest[0] if _latest else None


# --- small IMAP helpers shared by probe and purge -----------------------------------------------------------

def select_folder(session: Session, imapobj: Any, folder: str, *, readonly: bool) -> FolderState:
    """EXAMINE (``readonly``) or SELECT ``folder``. Unknown folder: NotFoundError; other refusals: ServerError."""
    from offlineimap import OfflineImapError

    mailbox = session.imap_name(folder)
    verb = "EXAMINE" if readonly else "SELECT"
    try:
        result = imapobj.select(mailbox, readonly=readonly, force=True)
    except imapobj.abort as error:
        raise ServerError(f"{verb} {folder} on {session.where}: the server closed the connection: "
                          f"{session.transcript.scrub(clean_text(str(error), limit=200))}") from None
    except (imapobj.error, imapobj.readonly, OfflineImapError) as error:
        listed = _folder_listed(imapobj, mailbox)
        words = session.transcript.last_failure() or clean_text(first_line(str(error)), limit=200)
        if listed is False:
            raise NotFoundError(f"no folder {folder!r} on {session.where} (server said: {words})") from None
        raise ServerError(f"{verb} {folder} on {session.where} failed: {words}") from None
    if result is None or result[0] != "OK":
        raise ServerError(f"{verb} {folder} on {session.where} failed: {server_words('', result[1] if result else [])}")
    uidvalidity = _number(imapobj.response("UIDVALIDITY"))
    exists = _number(("OK", result[1]))
    return FolderState(mailbox, uidvalidity, exists)


def _number(response: Any) -> int | None:
    try:
        _typ, data = response
        values = [item for item in data if isinstance(item, (bytes, str))]
        if values:
            return int(values[-1])
    except (TypeError, ValueError):
        pass
    return None


def _folder_listed(imapobj: Any, mailbox: str) -> bool | None:
    """Does LIST name ``mailbox``? None when that cannot be told."""
    try:
        typ, data = imapobj.list('""', mailbox)
    except Exception:
        return None
    if typ != "OK":
        return None
    return any(item is not None for item in data)


def locate(imapobj: Any, uid: int) -> FetchResponse | None:
    """``UID FETCH uid (UID FLAGS)``, then ``UID SEARCH UID uid``: the response for ``uid`` (with its sequence
    number and flags), or None when the UID is not in the selected folder. Raises :class:`ConnectionDropped`."""
    typ, data = imap_call(imapobj, "uid", "FETCH", str(uid), "(UID FLAGS)")
    found = locate_uid(data, uid) if typ == "OK" else None
    if found is not None:
        return found
    typ, data = imap_call(imapobj, "uid", "SEARCH", "UID", str(uid))
    if typ == "OK" and search_has_uid(data, uid):
        return FetchResponse(msn=0)  # listed by SEARCH although FETCH said nothing: sequence number unknown
    return None


def uid_set(imapobj: Any, *criteria: str) -> set[int]:
    """``UID SEARCH <criteria>`` as a set of UIDs. Raises ServerError when the server refuses."""
    typ, data = imap_call(imapobj, "uid", "SEARCH", *criteria)
    if typ != "OK":
        raise ServerError(f"UID SEARCH {' '.join(criteria)} failed: {server_words('', data)}")
    found: set[int] = set()
    for item in data:
        if isinstance(item, bytes):
            found.update(int(word) for word in item.split() if word.isdigit())
    return found
