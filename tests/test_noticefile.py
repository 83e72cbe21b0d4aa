"""Reading Maildir files for ``adopt``: notices found, real mail left, the body read only when needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from offlineimap_phantomfix import noticefile
from offlineimap_phantomfix.noticefile import READ_LIMIT, read_notice, same_content_in
from offlineimap_phantomfix.testing.messages import exchange_substitute, make_message

NOTICE = exchange_substitute(15541, subject="Quarterly figures", sender="Alice Example <alice@example.org>",
                             sent="1/20/2016 3:41:07 PM")


def write(tmp_path: Path, data: bytes, name: str = "msg") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_a_notice_is_found_with_the_lost_mail(tmp_path: Path, newline: bytes) -> None:
    data = NOTICE.replace(b"\r\n", newline)
    found = read_notice(write(tmp_path, data))
    assert found is not None
    info, content = found
    assert content == data
    assert info.uid == 15541
    assert info.original.subject == "Quarterly figures"
    assert info.original.sender == '"Alice Example" <alice@example.org>'


def test_a_notice_without_headers_is_found_from_its_body(tmp_path: Path) -> None:
    plain = b"The server couldn't retrieve the following message:\r\n\r\nSubject: \"x\"\r\n\r\n" \
            b"The message hasn't been deleted.\r\n"
    found = read_notice(write(tmp_path, plain))
    assert found is not None and found[0].original.subject == "x"


def test_forwarded_and_quoted_notices_are_mail(tmp_path: Path) -> None:
    forwarded = NOTICE.replace(b"Subject: Retrieval", b"Subject: Fwd: Retrieval").replace(
        b"From: Microsoft Exchange Server 2010", b"From: Colleague <colleague@example.org>")
    reply = make_message(1, subject="Re: Retrieval using the IMAP4 protocol failed for the following message: 5")
    assert read_notice(write(tmp_path, forwarded, "fwd")) is None
    assert read_notice(write(tmp_path, reply, "re")) is None


def test_ordinary_mail_is_ruled_out_from_its_header_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = noticefile.detect_placeholder
    monkeypatch.setattr(noticefile, "detect_placeholder", lambda data: calls.append(len(data)) or real(data))
    mail = make_message(7, subject="Lunch on Friday") + b"The server couldn't retrieve anything." * 100_000
    assert read_notice(write(tmp_path, mail)) is None
    assert calls == [], "a mail with its own Subject must not reach the detector"
    assert read_notice(write(tmp_path, NOTICE, "notice")) is not None
    assert calls == [len(NOTICE)]


def test_anything_larger_than_a_notice_is_not_one(tmp_path: Path) -> None:
    big = NOTICE + b"x" * READ_LIMIT
    assert read_notice(write(tmp_path, big)) is None


def test_same_content_in_finds_an_identical_item(tmp_path: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "new" / "a").write_bytes(NOTICE + b"different")
    assert same_content_in(tmp_path, NOTICE) is None
    (tmp_path / "tmp" / "b").write_bytes(NOTICE)
    assert same_content_in(tmp_path, NOTICE) is None, "tmp/ holds no delivered message"
    (tmp_path / "cur" / "c:2,S").write_bytes(NOTICE)
    assert same_content_in(tmp_path, NOTICE) == tmp_path / "cur" / "c:2,S"
