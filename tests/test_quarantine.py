"""quarantine.py: the Maildir writer and the generated notice."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
import stat
import threading
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from offlineimap_phantomfix.errors import QuarantineError
from offlineimap_phantomfix.quarantine import Quarantine, account_dir_name, build_notice
from offlineimap_phantomfix.verdicts import Evidence, MessageKey, Original, Verdict

KEY = MessageKey("Work", "WorkRemote", "INBOX", 14, 15541)
NOW = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
NAME = re.compile(r"\A\d+\.M\d+P\d+Q\d+\.[A-Za-z0-9._-]+\Z")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def full_evidence(**changes: object) -> Evidence:
    evidence = Evidence(
        flags="(\\Seen \\Flagged)",
        internaldate="20-Jan-2016 15:41:07 +0100",
        size=4242,
        bodystructure='("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 1 1)',
        envelope='("Wed, 20 Jan 2016 15:41:07 +0100" "Quarterly figures" NIL NIL NIL NIL NIL NIL NIL NIL)',
        header=b"From: Alice <alice@example.org>\r\nSubject: Quarterly figures\r\n\r\n",
        server_said=["NO The requested message could not be converted to an RFC-822 compatible format.",
                     "BAD Command Argument Error. 11"],
        sequence_number=1045,
    )
    for name, value in changes.items():
        setattr(evidence, name, value)
    return evidence


# --- the Maildir writer -------------------------------------------------------------------------------------

def test_maildir_is_created_with_private_modes(tmp_path: Path) -> None:
    root = tmp_path / "phantomfix" / "quarantine"
    old = os.umask(0o022)
    try:
        path = Quarantine(root).maildir("Work")
    finally:
        os.umask(old)
    assert path == root / "Work"
    for directory in (root, path, path / "tmp", path / "new", path / "cur"):
        assert directory.is_dir()
        assert mode(directory) == 0o700, directory
    assert mode(tmp_path / "phantomfix") == 0o700  # created parents too


def test_existing_directories_keep_their_modes(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    Quarantine(tmp_path / "q").maildir("Work")
    assert mode(tmp_path) == 0o755


def test_deliver_writes_0600_into_new_and_leaves_tmp_empty(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    old = os.umask(0o000)
    try:
        path = quarantine.deliver("Work", b"Subject: hi\r\n\r\nbody\r\n")
    finally:
        os.umask(old)
    assert path.parent == tmp_path / "q" / "Work" / "new"
    assert path.read_bytes() == b"Subject: hi\r\n\r\nbody\r\n"
    assert mode(path) == 0o600
    assert NAME.match(path.name), path.name
    assert list((tmp_path / "q" / "Work" / "tmp").iterdir()) == []
    assert f"P{os.getpid()}Q" in path.name


def test_deliver_can_keep_a_maildir_file_name_flags_and_place(tmp_path: Path) -> None:
    box = Quarantine(tmp_path)
    name = "1700000000_3.123.host,U=7,FMD5=0123456789abcdef:2,FS"
    kept = box.deliver("Work", b"one", keep_name=name, into="cur")
    assert kept == tmp_path / "Work" / "cur" / name and kept.read_bytes() == b"one"
    assert [m.get_flags() for m in mailbox.Maildir(str(tmp_path / "Work"), create=False)] == ["FS"]
    # The same message name with other flags, a path, a dot file, another place: a fresh name in new/.
    for other, into in ((name.replace(":2,FS", ":2,S"), "cur"), ("../escape", "cur"), (".hidden", "cur"),
                        ("1700000001_1.1.host:2,", "tmp")):
        path = box.deliver("Work", b"two", keep_name=other, into=into)
        assert path.parent == tmp_path / "Work" / "new" and path.name != other
    assert not list((tmp_path / "Work" / "tmp").iterdir())


def test_unique_names_under_many_threads(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    paths: list[Path] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(25):
                # a fresh object each time, the way the repository uses it
                target = quarantine if i % 2 else Quarantine(tmp_path / "q")
                path = target.deliver("Work", b"Subject: %d-%d\r\n\r\nx\r\n" % (n, i))
                with lock:
                    paths.append(path)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(paths) == 400
    assert len({path.name for path in paths}) == 400
    assert len(list((tmp_path / "q" / "Work" / "new").iterdir())) == 400
    assert list((tmp_path / "q" / "Work" / "tmp").iterdir()) == []
    box = mailbox.Maildir(str(tmp_path / "q" / "Work"), factory=None, create=False)
    assert len(box) == 400


@pytest.mark.parametrize(
    "account",
    ["../x", "a/b", "..", ".", "", "/etc/passwd", "evil\x1b[31mred\x07", "x\ny", "Ärger", "a:b", "a" * 300,
     "-rf", ".hidden"],
)
def test_hostile_account_names_stay_inside_the_root(tmp_path: Path, account: str) -> None:
    root = tmp_path / "q"
    quarantine = Quarantine(root)
    maildir = quarantine.maildir(account)
    path = quarantine.deliver(account, b"Subject: x\r\n\r\ny\r\n")
    assert maildir.parent == root
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", maildir.name), maildir.name
    assert len(maildir.name) <= 64
    assert path.resolve().parent == (root / maildir.name / "new").resolve()
    assert [p.name for p in tmp_path.iterdir()] == ["q"]


def test_distinct_hostile_names_do_not_share_a_maildir() -> None:
    names = {account_dir_name(account) for account in ("a/b", "a_b", "a:b", "a\x1bb", "../a_b")}
    assert len(names) == 5
    assert account_dir_name("Work") == "Work"
    assert account_dir_name("my.account-2") == "my.account-2"


def test_root_is_a_file_gives_one_line_quarantine_error(tmp_path: Path) -> None:
    root = tmp_path / "q"
    root.write_text("not a directory")
    with pytest.raises(QuarantineError) as info:
        Quarantine(root).deliver("Work", b"x")
    message = str(info.value)
    assert "\n" not in message and str(root) in message


def test_parent_is_a_file_gives_quarantine_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("x")
    with pytest.raises(QuarantineError):
        Quarantine(tmp_path / "state" / "quarantine").maildir("Work")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_maildir_gives_quarantine_error_and_no_leftovers(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    maildir = quarantine.maildir("Work")
    (maildir / "new").chmod(0o500)
    try:
        with pytest.raises(QuarantineError) as info:
            quarantine.deliver("Work", b"x")
        assert "\n" not in str(info.value)
        assert list((maildir / "tmp").iterdir()) == []
    finally:
        (maildir / "new").chmod(0o700)


def test_failed_rename_gives_quarantine_error_and_no_leftovers(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    quarantine = Quarantine(tmp_path / "q")
    maildir = quarantine.maildir("Work")

    def refuse(source: object, target: object) -> None:
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(QuarantineError) as info:
        quarantine.deliver("Work", b"x")
    assert "No space left on device" in str(info.value) and "\n" not in str(info.value)
    assert list((maildir / "tmp").iterdir()) == []
    assert list((maildir / "new").iterdir()) == []


def test_tmp_replaced_by_a_file_gives_quarantine_error(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    maildir = quarantine.maildir("Work")
    (maildir / "tmp").rmdir()
    (maildir / "tmp").write_text("x")
    with pytest.raises(QuarantineError):
        quarantine.deliver("Work", b"x")


# --- the notice ---------------------------------------------------------------------------------------------

def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def all_defects(message: EmailMessage) -> list[object]:
    return [defect for part in message.walk() for defect in part.defects]


@pytest.mark.parametrize("verdict", list(Verdict))
def test_notice_parses_without_defects_for_every_verdict(verdict: Verdict) -> None:
    raw = build_notice(KEY, verdict, full_evidence(), original=Original(subject="Quarterly figures"), now=NOW)
    message = parse(raw)
    assert all_defects(message) == []
    assert message["X-Phantomfix-Verdict"] == verdict.value
    assert message["Subject"] == f"[phantom] Quarterly figures (INBOX UID 15541, {verdict.value})"
    assert b"\r" not in raw and b"\n" in raw  # LF line endings, as a Maildir file has them


def test_notice_headers_and_parts() -> None:
    original = Original(subject="Quarterly figures", sender='"Alice Example" <alice@example.org>',
                        date="1/20/2016 3:41:07 PM")
    raw = build_notice(KEY, Verdict.EMPTY, full_evidence(), original=original, now=NOW)
    message = parse(raw)
    assert message["From"] == "offlineimap-phantomfix <phantomfix@localhost>"
    assert message["To"] == "offlineimap-phantomfix <phantomfix@localhost>"
    assert message["Date"].datetime == NOW
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(message["Message-ID"]))
    assert message["X-Phantomfix-Folder"] == "INBOX"
    assert message["X-Phantomfix-UID"] == "15541"
    assert message["X-Phantomfix-UIDVALIDITY"] == "14"
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/plain", "text/rfc822-headers"]

    explanation = parts[0].get_content()
    assert "The server lists this message but returned no data for any form of FETCH" in explanation
    for needle in ("Work", "INBOX", "15541", "14", "Quarterly figures", "alice@example.org", "1/20/2016 3:41:07 PM",
                   "offlineimap-phantomfix probe --account Work --folder INBOX --uid 15541",
                   "offlineimap-phantomfix clear --account Work --folder INBOX --uid 15541",
                   "offlineimap-phantomfix purge --account Work --folder INBOX --uid 15541 --yes", "Outlook"):
        assert needle in explanation, needle

    assert parts[1].get_filename() == "evidence.txt"
    assert parts[1].get_content_disposition() == "attachment"
    evidence = parts[1].get_content()
    for needle in ("(\\Seen \\Flagged)", "20-Jan-2016 15:41:07 +0100", "4242", "1045", '"quoted-printable" 1 1',
                   '"Quarterly figures" NIL', "BAD Command Argument Error. 11"):
        assert needle in evidence, needle
    lines = evidence.splitlines()
    assert "  NO The requested message could not be converted to an RFC-822 compatible format." in lines
    assert "  BAD Command Argument Error. 11" in lines

    assert parts[2].get_payload(decode=True) == full_evidence().header


@pytest.mark.parametrize(
    ("verdict", "phrase"),
    [
        (Verdict.EMPTY, "returned no data for any form of FETCH"),
        (Verdict.REFUSED, "NO or BAD"),
        (Verdict.DROPPED, "drops the connection"),
        (Verdict.PLACEHOLDER, "substitute"),
        (Verdict.UNPARSEABLE, "could not parse"),
    ],
)
def test_explanation_per_verdict(verdict: Verdict, phrase: str) -> None:
    explanation = parse(build_notice(KEY, verdict, Evidence(), now=NOW)).get_body(("plain",))
    assert explanation is not None
    assert phrase in explanation.get_content()


def test_minimal_evidence_has_no_header_part_and_no_original() -> None:
    message = parse(build_notice(KEY, Verdict.DROPPED, Evidence(), now=NOW))
    assert all_defects(message) == []
    parts = list(message.iter_parts())
    assert len(parts) == 2
    assert message["Subject"] == "[phantom] unknown subject (INBOX UID 15541, dropped)"
    assert "(unknown)" in parts[1].get_content()
    assert "(nothing)" in parts[1].get_content()


def test_hostile_server_text_is_cleaned() -> None:
    key = MessageKey("Work", "WorkRemote", "INBOX/\x1b[31mevil\x1b]0;title\x07", 14, 15541)
    original = Original(subject="Pay \x1b[31mnow\x1b[0m\r\nBcc: victim@example.org", sender="x\x00y",
                        date="\x9b2J today")
    evidence = full_evidence(server_said=["NO \x1b[2Jcleared\x07", "\x1b[31m"], flags="(\\Seen)\x1b[0m",
                             envelope="(\x1b[5m)", header=b"Subject: \x1b[31mred\r\n\r\n")
    raw = build_notice(key, Verdict.REFUSED, evidence, original=original, now=NOW)
    assert b"\x1b" not in raw  # the attached raw header is base64
    message = parse(raw)
    assert all_defects(message) == []
    assert message["Subject"] == "[phantom] Pay now Bcc: victim@example.org (INBOX/evil UID 15541, refused)"
    assert message["Bcc"] is None
    assert message["X-Phantomfix-Folder"] == "INBOX/evil"
    for part in list(message.iter_parts())[:2]:
        text = part.get_content()
        assert not CONTROL.search(text.replace("\n", "")), text
        assert "\x1b" not in text
    # the raw header is kept exactly (base64), it is evidence
    assert list(message.iter_parts())[2].get_payload(decode=True) == b"Subject: \x1b[31mred\r\n\r\n"


def test_smuggled_encoded_word_stays_literal() -> None:
    subject = "=?utf-8?q?=1B[31m_red?= x"
    raw = build_notice(KEY, Verdict.EMPTY, Evidence(), original=Original(subject=subject), now=NOW)
    message = parse(raw)
    assert message["Subject"] == f"[phantom] {subject} (INBOX UID 15541, empty)"
    assert "\x1b" not in str(message["Subject"])


def test_non_ascii_header_text_is_encoded() -> None:
    key = MessageKey("Büro", "Remote", "Posteingang/Ärger", 14, 7)
    raw = build_notice(key, Verdict.EMPTY, Evidence(), original=Original(subject="Grüße \u2013 四半期"), now=NOW)
    head = raw.split(b"\n\n", 1)[0]
    assert head.isascii()
    message = parse(raw)
    assert all_defects(message) == []
    assert message["Subject"] == "[phantom] Grüße \u2013 四半期 (Posteingang/Ärger UID 7, empty)"
    assert message["X-Phantomfix-Folder"] == "Posteingang/Ärger"
    body = message.get_body(("plain",))
    assert body is not None and "Grüße \u2013 四半期" in body.get_content()
    assert "--folder 'Posteingang/Ärger'" in body.get_content()


def test_folder_with_spaces_is_shell_quoted_in_commands() -> None:
    key = MessageKey("My Account", "Remote", "Sent Items", 3, 9)
    body = parse(build_notice(key, Verdict.EMPTY, Evidence(), now=NOW)).get_body(("plain",))
    assert body is not None
    assert "offlineimap-phantomfix purge --account 'My Account' --folder 'Sent Items' --uid 9 --yes" in \
        body.get_content()


def test_long_subject_is_cut_and_folded() -> None:
    raw = build_notice(KEY, Verdict.EMPTY, Evidence(), original=Original(subject="word " * 400), now=NOW)
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    message = parse(raw)
    assert all_defects(message) == []
    assert len(str(message["Subject"])) < 400


def test_naive_now_is_taken_as_utc_and_default_now_works() -> None:
    message = parse(build_notice(KEY, Verdict.EMPTY, Evidence(), now=datetime(2026, 1, 2, 3, 4, 5)))
    assert message["Date"].datetime == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse(build_notice(KEY, Verdict.EMPTY, Evidence()))["Date"].datetime.tzinfo is not None


def test_message_ids_differ() -> None:
    first = parse(build_notice(KEY, Verdict.EMPTY, Evidence(), now=NOW))["Message-ID"]
    second = parse(build_notice(KEY, Verdict.EMPTY, Evidence(), now=NOW))["Message-ID"]
    assert first != second


def test_delivered_notices_read_back_through_mailbox_maildir(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    hostile = MessageKey("Work", "WorkRemote", "INBOX", 14, 99)
    quarantine.deliver("Work", build_notice(KEY, Verdict.EMPTY, full_evidence(), now=NOW))
    quarantine.deliver("Work", build_notice(hostile, Verdict.REFUSED, Evidence(server_said=["NO x"]),
                                            original=Original(subject="\x1b[31mRed alert"), now=NOW))
    box = mailbox.Maildir(str(tmp_path / "q" / "Work"), factory=None, create=False)
    subjects = sorted(str(message["Subject"]) for message in box)
    assert subjects == ["[phantom] Quarterly figures (INBOX UID 15541, empty)",
                        "[phantom] Red alert (INBOX UID 99, refused)"]
    for message in box:
        assert message.get_content_type() == "multipart/mixed"
        assert not message.defects
