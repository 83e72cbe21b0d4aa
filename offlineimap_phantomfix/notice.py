"""Pure: the quarantine item that describes one phantom, as an RFC 5322 message with LF line endings.

Every item is a message of our own, so that Mutt's and notmuch's index line names the lost mail:
``Subject: [phantom] <lost subject> (<folder> UID <uid>, <verdict>)``, ``Date:`` the time the phantom was
first seen, an explanation with the next steps, ``evidence.txt``, the header the server sent (when there was
one), and for a substitute notice or unparseable data the server's bytes exactly as received, as a base64
attachment (``server-notice.eml`` / ``server-message.eml``). The ``X-Phantomfix-*`` headers name the message
(account, repository, folder, UIDVALIDITY, UID) so that an item can be found again for the same message.
"""

from __future__ import annotations

import email.policy
import secrets
import shlex
import textwrap
from datetime import datetime, timezone
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime

from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import Evidence, MessageKey, Original, Verdict

__all__ = ["NOTICE_ADDRESS", "build_notice", "explain", "known_original", "notice_subject"]

NOTICE_ADDRESS = Address("offlineimap-phantomfix", "phantomfix", "localhost")
PROGRAM = "offlineimap-phantomfix"
UNKNOWN_SUBJECT = "unknown subject"
_TEXT_LIMIT = 2000  # characters kept of any one piece of server text in a notice
_SUBJECT_LIMIT = 200
_POLICY = email.policy.default.clone(linesep="\n")
_SERVER_FILE = {Verdict.PLACEHOLDER: "server-notice.eml", Verdict.UNPARSEABLE: "server-message.eml"}

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


def known_original(verdict: Verdict, evidence: Evidence, original: Original | None,
                   server_message: bytes | None = None) -> Original | None:
    """What is known of the lost mail: ``original`` (read from a substitute notice) when it says anything,
    else the Subject/From/Date of the header the server did send (the evidence header, or the unparseable
    data). A substitute notice's own header describes the notice, not the mail, so it is never used."""
    if original is not None and not original.is_empty():
        return original
    if verdict is Verdict.PLACEHOLDER:
        return None
    source = evidence.header or (server_message if verdict is Verdict.UNPARSEABLE else None)
    if not source:
        return None
    try:
        header = BytesHeaderParser(policy=email.policy.default).parsebytes(bytes(source))
        found = Original(**{field: _header_text(header, name) for field, name in
                            (("subject", "Subject"), ("sender", "From"), ("date", "Date"))})
    except Exception:  # a header too broken to read tells us nothing
        return None
    return None if found.is_empty() else found


def _header_text(header: EmailMessage, name: str) -> str | None:
    value = header.get(name)
    if value is None:
        return None
    text = clean_text(str(value), limit=_TEXT_LIMIT)
    return text or None


def notice_subject(key: MessageKey, verdict: Verdict, original: Original | None) -> str:
    """``[phantom] <lost subject> (<folder> UID <uid>, <verdict>)``; the lost subject comes first so that a
    narrow index line still shows it, and ``unknown subject`` stands in when nothing names it."""
    known = clean_text(original.subject, limit=_SUBJECT_LIMIT) if original is not None and original.subject else ""
    return f"[phantom] {known or UNKNOWN_SUBJECT} ({clean_text(key.folder, limit=80)} UID {key.uid}, {verdict.value})"


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


def _explanation(key: MessageKey, verdict: Verdict, original: Original | None, now: datetime,
                 server_file: str | None) -> str:
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
        f"First seen:  {now.isoformat(timespec='seconds')}",
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
    if server_file is not None:
        lines.append(_wrap(f"The attached {server_file} is what the server sent in its place, byte for byte; "
                           "save it to open it as a message."))
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
        "The server said to the fetches of the message's content:",
    ]
    words = [clean_text(said, limit=_TEXT_LIMIT) for said in evidence.server_said]
    words = [said for said in words if said]
    lines += [f"  {said}" for said in words] if words else ["  (nothing)"]
    notes = [clean_text(note, limit=_TEXT_LIMIT) for note in evidence.notes]
    notes = [note for note in notes if note]
    if notes:
        lines += ["", "Other answers and notes:", *(f"  {note}" for note in notes)]
    return "\n".join(lines) + "\n"


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
                 now: datetime | None = None, server_message: bytes | None = None) -> bytes:
    """A multipart/mixed message (LF line endings) describing a phantom: explanation, evidence.txt, the header
    the server sent (``text/rfc822-headers``, base64) when there was one, and ``server_message`` (the
    substitute notice or the unparseable data) unchanged as a base64 attachment. ``now`` is the time the
    phantom was first seen; it becomes the item's Date."""
    when = now if now is not None else datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    known = known_original(verdict, evidence, original, server_message)
    message = EmailMessage(policy=_POLICY)
    message["From"] = NOTICE_ADDRESS
    message["To"] = NOTICE_ADDRESS
    message["Date"] = format_datetime(when)
    message["Message-ID"] = f"<{int(when.timestamp())}.{secrets.token_hex(8)}.{key.uid}@phantomfix.localhost>"
    _set_text_header(message, "Subject", notice_subject(key, verdict, known))
    message["X-Phantomfix-Verdict"] = verdict.value
    _set_text_header(message, "X-Phantomfix-Account", clean_text(key.account))
    _set_text_header(message, "X-Phantomfix-Repository", clean_text(key.repository))
    _set_text_header(message, "X-Phantomfix-Folder", clean_text(key.folder))
    message["X-Phantomfix-UID"] = str(key.uid)
    message["X-Phantomfix-UIDVALIDITY"] = str(key.uidvalidity)

    server_file = _SERVER_FILE.get(verdict, "server-data.eml") if server_message is not None else None
    explanation = _explanation(key, verdict, known, when, server_file)
    message.set_content(explanation, subtype="plain", charset="utf-8", cte=_text_cte(explanation))
    evidence_text = _evidence_text(key, verdict, evidence)
    message.add_attachment(evidence_text, subtype="plain", charset="utf-8", cte=_text_cte(evidence_text),
                           disposition="attachment", filename="evidence.txt")
    if evidence.header:
        message.add_attachment(bytes(evidence.header), maintype="text", subtype="rfc822-headers",
                               cte="base64", disposition="attachment", filename="header.txt")
    if server_message is not None and server_file is not None:
        message.add_attachment(bytes(server_message), maintype="application", subtype="octet-stream",
                               cte="base64", disposition="attachment", filename=server_file)
    return message.as_bytes(policy=_POLICY)
