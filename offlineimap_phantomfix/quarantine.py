"""The quarantine: one Maildir per account, and the message that describes a phantom with its evidence.

``<phantom_dir>/quarantine/<account>/`` is a real Maildir (``tmp``, ``new``, ``cur``) that Mutt and notmuch read.
Items are written the Maildir way: to ``tmp/`` (mode 0600, fsync), then renamed into ``new/``. File names are
made only of our own text (time, pid, a counter, the host name, a hash of the message's key and the account
name passed through :func:`~offlineimap_phantomfix.sanitize.safe_name`), never of anything a server chose.

:func:`build_notice` is pure: it turns what the recovery ladder learned about a message (key, verdict,
evidence, what is known of the original) into an RFC 5322 message for that Maildir.
"""

from __future__ import annotations

import email.policy
import errno
import hashlib
import itertools
import os
import secrets
import shlex
import socket
import textwrap
import threading
import time
from datetime import datetime, timezone
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from offlineimap_phantomfix.errors import QuarantineError
from offlineimap_phantomfix.sanitize import clean_text, safe_name
from offlineimap_phantomfix.verdicts import Evidence, MessageKey, Original, Verdict

__all__ = ["NOTICE_ADDRESS", "Quarantine", "build_notice", "explain"]

NOTICE_ADDRESS = Address("offlineimap-phantomfix", "phantomfix", "localhost")
PROGRAM = "offlineimap-phantomfix"
_DIR_MODE = 0o700
_FILE_MODE = 0o600
_TEXT_LIMIT = 2000  # characters kept of any one piece of server text in a notice
_SUBJECT_LIMIT = 200

# Deliveries in this process: the "Q" part of a Maildir name. Shared by every Quarantine object, because
# callers may build a new one per item; the lock keeps it exact under offlineimap's copy threads.
_deliveries = itertools.count(1)
_deliveries_lock = threading.Lock()


def _next_delivery() -> int:
    with _deliveries_lock:
        return next(_deliveries)


def _safe_hostname() -> str:
    return safe_name(socket.gethostname() or "localhost", limit=64)


def account_dir_name(account: str) -> str:
    """The Maildir's directory name for an account: the name itself when it is already safe, else a safe
    rendering plus a short hash (so that ``a/b`` and ``a_b`` never share a Maildir)."""
    name = safe_name(account)
    if name == account:
        return name
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe_name(account, limit=55)}-{digest}"


class Quarantine:
    """Writes quarantine items into ``root/<account>/`` Maildirs. Safe to use from several threads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def maildir(self, account: str) -> Path:
        """The account's Maildir, created (with its parents) as ``tmp``, ``new``, ``cur``, directories 0700."""
        path = self.root / account_dir_name(account)
        try:
            _make_dir(self.root)
            _make_dir(path)
            for sub in ("tmp", "new", "cur"):
                _make_dir(path / sub)
        except OSError as error:
            raise QuarantineError(f"cannot create the quarantine Maildir {path}: {_reason(error)}") from None
        return path

    def deliver(self, account: str, content: bytes, *, key: MessageKey | None = None) -> Path:
        """Store ``content`` as one new message; returns the path of the file in ``new/``.

        With ``key``, the file name carries a tag of that message, and an item already delivered for it (by a
        sync killed before it could record the item, or before a ``clear``) is returned instead of a second one.
        """
        maildir = self.maildir(account)
        tag = f"_ph{_key_tag(key)}" if key is not None else ""
        if tag:
            existing = _find_tagged(maildir, tag)
            if existing is not None:
                return existing
        temporary: Path | None = None
        try:
            for _ in range(100):
                name = _unique_name() + tag
                candidate = maildir / "tmp" / name
                try:
                    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, _FILE_MODE)
                except FileExistsError:
                    continue
                temporary = candidate
                break
            else:  # pragma: no cover - would need 100 name collisions in a row
                raise OSError(errno.EEXIST, "no unique file name found")
            with os.fdopen(descriptor, "wb") as handle:
                os.fchmod(handle.fileno(), _FILE_MODE)
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            final = maildir / "new" / temporary.name
            if final.exists() or (maildir / "cur" / temporary.name).exists():  # pragma: no cover - paranoia
                raise OSError(errno.EEXIST, "a message of that name already exists", str(final))
            os.rename(temporary, final)
            temporary = None
            _fsync_dir(maildir / "new")
            return final
        except OSError as error:
            raise QuarantineError(f"cannot write a quarantine item in {maildir}: {_reason(error)}") from None
        finally:
            if temporary is not None:
                try:
                    temporary.unlink()
                except OSError:
                    pass


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _key_tag(key: MessageKey) -> str:
    text = "\0".join((key.account, key.repository, key.folder, str(key.uidvalidity), str(key.uid)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _find_tagged(maildir: Path, tag: str) -> Path | None:
    """The item in ``new/`` or ``cur/`` whose name (before any ``:2,`` flags) ends with ``tag``."""
    for sub in ("new", "cur"):
        try:
            names = sorted(os.listdir(maildir / sub))
        except OSError:
            continue
        for name in names:
            if name.partition(":")[0].endswith(tag):
                return maildir / sub / name
    return None


def _make_dir(path: Path) -> None:
    """mkdir -p; directories this call creates get mode 0700 whatever the umask."""
    if path.is_dir():
        return
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue
        os.chmod(directory, _DIR_MODE)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))


def _unique_name() -> str:
    now = time.time()
    seconds = int(now)
    micro = int((now - seconds) * 1_000_000)
    return f"{seconds}.M{micro}P{os.getpid()}Q{_next_delivery()}.{_safe_hostname()}"


def _fsync_dir(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _reason(error: OSError) -> str:
    text = error.strerror or str(error)
    if error.filename:
        text = f"{error.filename}: {text}"
    return clean_text(text)


# --- the generated notice ---------------------------------------------------------------------------------

_WHAT_HAPPENED: dict[Verdict, str] = {
    Verdict.EMPTY: "The server lists this message but returned no data for any form of FETCH "
                   "(it answered OK and sent nothing).",
    Verdict.REFUSED: "The server lists this message but refused to deliver it: every form of FETCH was answered "
                     "with NO or BAD.",
    Verdict.DROPPED: "The server drops the connection whenever this message is fetched; this was confirmed once "
                     "more on a fresh connection.",
    Verdict.PLACEHOLDER: "Instead of this message the server handed over a substitute notice it wrote itself "
                         '("Retrieval using the IMAP4 protocol failed ..."). The substitute was not stored as '
                         "the mail.",
    Verdict.UNPARSEABLE: "The server delivered data for this message, but offlineimap could not parse or store it.",
    Verdict.VANISHED: "The message was expunged on the server between listing and fetching it. There is nothing "
                      "to keep.",
    Verdict.RECOVERED: "The plain fetch failed, but a fallback fetch delivered the real message and it was synced "
                       "normally.",
}


def explain(verdict: Verdict) -> str:
    """One or two plain sentences on what a verdict means."""
    return _WHAT_HAPPENED[verdict]


def _commands(key: MessageKey) -> dict[str, str]:
    where = (f"--account {shlex.quote(clean_text(key.account))} --folder {shlex.quote(clean_text(key.folder))} "
             f"--uid {key.uid}")
    return {
        "probe": f"{PROGRAM} probe {where}",
        "clear": f"{PROGRAM} clear {where}",
        "purge": f"{PROGRAM} purge {where} --yes",
    }


def _wrap(text: str, *, bullet: bool = False) -> str:
    return textwrap.fill(text, width=76, subsequent_indent="  " if bullet else "", break_on_hyphens=False)


def _explanation(key: MessageKey, verdict: Verdict, original: Original | None, now: datetime) -> str:
    lines = [
        f"offlineimap-phantomfix could not sync one message ({verdict.value}).",
        "",
        _wrap(explain(verdict)),
        "",
        f"Account:     {clean_text(key.account)}",
        f"Repository:  {clean_text(key.repository)}",
        f"Folder:      {clean_text(key.folder)}",
        f"UID:         {key.uid}",
        f"UIDVALIDITY: {key.uidvalidity}",
        f"Recorded:    {now.isoformat(timespec='seconds')}",
        "",
    ]
    if original is not None and not original.is_empty():
        lines.append("What is known of the original message:")
        for label, value in (("Subject", original.subject), ("From", original.sender), ("Date", original.date)):
            if value:
                lines.append(f"  {label + ':':9}{clean_text(value, limit=_TEXT_LIMIT)}")
    else:
        lines.append("Nothing is known of the original message beyond what the attached evidence shows.")
    lines.append("")
    commands = _commands(key)
    if verdict.is_phantom:
        lines += [
            _wrap("Later syncs skip this message, until you clear the entry, phantom_retry_after passes, or the "
                  "folder's UIDVALIDITY changes. The rest of the folder is synced as usual."),
            "",
            "What to do next:",
            _wrap("- The message may still be readable in Outlook or the webmail (Outlook Web App); forward it or "
                  "save it from there if you need it.", bullet=True),
            _wrap("- See exactly what the server answers (the transcript is safe to send to its administrators):",
                  bullet=True),
            f"    {commands['probe']}",
            _wrap("- Fetch it again on the next sync (for example after the administrators fixed it):", bullet=True),
            f"    {commands['clear']}",
            _wrap("- Delete it on the server once you have what you need (only this message is touched):",
                  bullet=True),
            f"    {commands['purge']}",
        ]
    else:
        lines.append("Nothing needs to be done.")
    lines += ["", "The attached evidence.txt holds what the server did say about the message."]
    return "\n".join(lines) + "\n"


def _evidence_text(key: MessageKey, verdict: Verdict, evidence: Evidence) -> str:
    def show(value: object) -> str:
        return "(unknown)" if value is None else clean_text(str(value), limit=_TEXT_LIMIT * 4)

    lines = [
        f"Verdict:         {verdict.value}",
        f"Folder:          {clean_text(key.folder)}",
        f"UID:             {key.uid}",
        f"UIDVALIDITY:     {key.uidvalidity}",
        f"Sequence number: {show(evidence.sequence_number)}",
        f"Flags:           {show(evidence.flags)}",
        f"Internal date:   {show(evidence.internaldate)}",
        f"Size:            {show(evidence.size)}",
        f"BODYSTRUCTURE:   {show(evidence.bodystructure)}",
        f"ENVELOPE:        {show(evidence.envelope)}",
        f"Header:          {'attached' if evidence.header else '(not delivered)'}",
        "",
        "The server said:",
    ]
    words = [clean_text(said, limit=_TEXT_LIMIT) for said in evidence.server_said]
    words = [said for said in words if said]
    lines += [f"  {said}" for said in words] if words else ["  (nothing)"]
    return "\n".join(lines) + "\n"


def _subject(key: MessageKey, verdict: Verdict, original: Original | None) -> str:
    folder = clean_text(key.folder, limit=80)
    known = clean_text(original.subject, limit=_SUBJECT_LIMIT) if original is not None and original.subject else ""
    middle = f": {known}" if known else ""
    return f"[phantom] {folder} UID {key.uid}{middle} ({verdict.value})"


def _text_cte(text: str) -> str:
    if text.isascii() and all(len(line) <= 78 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"


def _set_text_header(message: EmailMessage, name: str, value: str) -> None:
    """Set an unstructured header, encoded and folded here rather than by the policy's folder (which, in the
    Python versions we support, can drop the space between two RFC 2047 words). Text that is not plain ASCII,
    or that contains ``=?`` (a server could smuggle an encoded word that decodes to control characters), is
    encoded as a whole in UTF-8 encoded words."""
    charset = "us-ascii" if value.isascii() and "=?" not in value else "utf-8"
    folded = Header(value, charset, maxlinelen=78, header_name=name).encode(linesep="\n")
    message.set_raw(name, folded)


def build_notice(key: MessageKey, verdict: Verdict, evidence: Evidence, *, original: Original | None = None,
                 now: datetime | None = None) -> bytes:
    """A multipart/mixed RFC 5322 message (CRLF) describing a phantom: explanation, evidence.txt, and the
    header the server sent (``text/rfc822-headers``, base64) when there was one."""
    when = now if now is not None else datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = NOTICE_ADDRESS
    message["To"] = NOTICE_ADDRESS
    message["Date"] = format_datetime(when)
    message["Message-ID"] = f"<{int(when.timestamp())}.{secrets.token_hex(8)}.{key.uid}@phantomfix.localhost>"
    _set_text_header(message, "Subject", _subject(key, verdict, original))
    message["X-Phantomfix-Verdict"] = verdict.value
    _set_text_header(message, "X-Phantomfix-Account", clean_text(key.account))
    _set_text_header(message, "X-Phantomfix-Folder", clean_text(key.folder))
    message["X-Phantomfix-UID"] = str(key.uid)
    message["X-Phantomfix-UIDVALIDITY"] = str(key.uidvalidity)

    explanation = _explanation(key, verdict, original, when)
    message.set_content(explanation, subtype="plain", charset="utf-8", cte=_text_cte(explanation))
    evidence_text = _evidence_text(key, verdict, evidence)
    message.add_attachment(evidence_text, subtype="plain", charset="utf-8", cte=_text_cte(evidence_text),
                           disposition="attachment", filename="evidence.txt")
    if evidence.header:
        message.add_attachment(bytes(evidence.header), maintype="text", subtype="rfc822-headers",
                               cte="base64", disposition="attachment", filename="header.txt")
    return message.as_bytes(policy=email.policy.SMTP)
