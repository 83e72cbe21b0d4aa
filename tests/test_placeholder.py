"""placeholder.py: is this the Exchange substitute notice, and what does it say about the lost mail?"""

from __future__ import annotations

import os
import random
import time

import pytest

from offlineimap_phantomfix.placeholder import PlaceholderInfo, detect_placeholder, substitute_for
from offlineimap_phantomfix.verdicts import Original

PHRASE = "Retrieval using the IMAP4 protocol failed for the following message:"

# The header block of the real Exchange 2013 transcript (seed): the UID on a line of its own, whitespace lost.
SEED_HEADER = (
    b"From: Microsoft Exchange Server 2010\r\n"
    b"Subject: Retrieval using the IMAP4 protocol failed for the following message:\r\n"
    b"15541\r\n"
)

BODY_LINES = [
    "The server couldn't retrieve the following message:",
    "",
    'Subject: "Quarterly figures"',
    'From: "Alice Example" <alice@example.org>',
    "Sent date: 1/20/2016 3:41:07 PM",
    "",
    "The message hasn't been deleted. You might be able to view it using either Outlook or Outlook Web App."
    " You can also try contacting the original sender to find out what the message was about.",
    "",
    "Thank you.",
]


def qp(text: str, charset: str = "utf-8", *, width: int = 76, breaks_at: tuple[str, ...] = ()) -> bytes:
    """Quoted-printable with soft breaks every ``width`` characters and before each of ``breaks_at``."""
    out: list[str] = []
    for line in text.split("\n"):
        encoded = "".join(
            chr(byte) if (32 <= byte < 127 and byte != ord("=")) else f"={byte:02X}"
            for byte in line.encode(charset)
        )
        for word in breaks_at:
            encoded = encoded.replace(word, word[: len(word) // 2] + "=\n" + word[len(word) // 2:])
        pieces: list[str] = []
        for soft in encoded.split("=\n"):
            while len(soft) > width:
                cut = width
                while soft[cut - 1] == "=" or soft[cut - 2] == "=":  # never cut inside an =XX escape
                    cut -= 1
                pieces.append(soft[:cut])
                soft = soft[cut:]
            pieces.append(soft)
        out.append("=\n".join(pieces))
    return "\n".join(out).encode("ascii")


def substitute(
    *,
    subject_header: bytes = b"Subject: " + PHRASE.encode() + b"\n 15541",
    sender: bytes = b"Microsoft Exchange Server 2010",
    charset: str = "us-ascii",
    body: str | None = None,
    encoding: str = "qp",
    breaks_at: tuple[str, ...] = (),
    crlf: bool = True,
    extra_headers: bytes = b"",
) -> bytes:
    text = "\n".join(BODY_LINES) if body is None else body
    if encoding == "qp":
        payload = qp(text, "utf-8" if charset == "us-ascii" else charset, breaks_at=breaks_at)
        cte = b"quoted-printable"
    else:
        payload = text.encode(charset)
        cte = b"8bit"
    message = (
        b"Received: from mail.example.org by exch.example.org\n"
        b"From: " + sender + b"\n"
        + subject_header + b"\n"
        b"To: user@example.org\n"
        b"Date: Wed, 20 Jan 2016 15:41:07 +0100\n"
        + extra_headers
        + b"MIME-Version: 1.0\n"
        b'Content-Type: text/plain; charset="' + charset.encode() + b'"\n'
        b"Content-Transfer-Encoding: " + cte + b"\n"
        b"\n" + payload + b"\n"
    )
    return message.replace(b"\n", b"\r\n") if crlf else message


def normal_mail(subject: bytes = b"Lunch on Friday?", body: bytes = b"Shall we?\n", crlf: bool = True) -> bytes:
    message = (
        b"From: Bob <bob@example.org>\nTo: user@example.org\nSubject: " + subject + b"\n"
        b"Date: Wed, 20 Jan 2016 15:41:07 +0100\nMessage-ID: <1@example.org>\n\n" + body
    )
    return message.replace(b"\n", b"\r\n") if crlf else message


QUARTERLY = Original(subject="Quarterly figures", sender='"Alice Example" <alice@example.org>',
                     date="1/20/2016 3:41:07 PM")


# --- the Subject: fold forms ----------------------------------------------------------------------------

FOLDS = {
    "crlf-space-before-uid": b"Subject: " + PHRASE.encode() + b"\n 15541",
    "crlf-tab-before-uid": b"Subject: " + PHRASE.encode() + b"\n\t15541",
    "unfolded": b"Subject: " + PHRASE.encode() + b" 15541",
    "no-space-after-colon": b"Subject: " + PHRASE.encode() + b"15541",
    "mid-phrase-space": b"Subject: Retrieval using the IMAP4\n protocol failed for the following message: 15541",
    "mid-phrase-tab": b"Subject: Retrieval using the\n\tIMAP4 protocol failed for the following\n message: 15541",
    "fold-after-field-name": b"Subject:\n " + PHRASE.encode() + b"\n 15541",
    "uid-own-line-whitespace-lost": b"Subject: " + PHRASE.encode() + b"\n15541",
    "mid-phrase-whitespace-lost": b"Subject: Retrieval using the IMAP4\n"
                                  b"protocol failed for the following message: 15541",
    "many-folds": b"Subject: Retrieval\n using\n the\n IMAP4\n protocol\n failed\n for\n the\n following\n"
                  b" message:\n 15541",
    "pop3": b"Subject: Retrieval using the POP3 protocol failed for the following message:\n 15541",
    "lower-case-field": b"subject: " + PHRASE.encode() + b"\n 15541",
    "encoded-word": b"Subject: =?us-ascii?Q?Retrieval_using_the_IMAP4_protocol_failed_for_the_following?=\n"
                    b" =?us-ascii?Q?_message:_15541?=",
    "trailing-space": b"Subject: " + PHRASE.encode() + b"\n 15541   ",
}


@pytest.mark.parametrize("crlf", [True, False], ids=["crlf", "lf"])
@pytest.mark.parametrize("subject_header", list(FOLDS.values()), ids=list(FOLDS))
def test_subject_fold_forms(subject_header: bytes, crlf: bool) -> None:
    info = detect_placeholder(substitute(subject_header=subject_header, crlf=crlf))
    assert info is not None
    assert info.uid == 15541
    assert info.server_name == "Microsoft Exchange Server 2010"
    assert info.original == QUARTERLY


@pytest.mark.parametrize("crlf", [True, False], ids=["crlf", "lf"])
@pytest.mark.parametrize("subject_header", list(FOLDS.values()), ids=list(FOLDS))
def test_subject_fold_forms_header_only(subject_header: bytes, crlf: bool) -> None:
    header = b"From: Microsoft Exchange Server 2013\n" + subject_header + b"\n"
    if crlf:
        header = header.replace(b"\n", b"\r\n")
    info = detect_placeholder(header)
    assert info == PlaceholderInfo(uid=15541, server_name="Microsoft Exchange Server 2013", original=Original())


def test_seed_transcript_header_block() -> None:
    assert detect_placeholder(SEED_HEADER) == PlaceholderInfo(15541, "Microsoft Exchange Server 2010", Original())
    # as the literal came back from the server: with the empty line that ends a header section
    assert detect_placeholder(SEED_HEADER + b"\r\n") == PlaceholderInfo(15541, "Microsoft Exchange Server 2010",
                                                                         Original())


def test_subject_only_header_section() -> None:
    info = detect_placeholder(b"Subject: " + PHRASE.encode() + b"\r\n 42\r\n\r\n")
    assert info == PlaceholderInfo(uid=42, server_name=None, original=Original())


def test_subject_without_number_is_still_a_substitute() -> None:
    info = detect_placeholder(substitute(subject_header=b"Subject: " + PHRASE.encode()))
    assert info is not None and info.uid is None and info.original == QUARTERLY


@pytest.mark.parametrize("number", [b"0", b"4294967296", b"99999999999999999999"])
def test_out_of_range_uid_is_none(number: bytes) -> None:
    info = detect_placeholder(substitute(subject_header=b"Subject: " + PHRASE.encode() + b" " + number))
    assert info is not None and info.uid is None


# --- sender names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        (b"Microsoft Exchange Server 2010", "Microsoft Exchange Server 2010"),
        (b"Microsoft Exchange Server", "Microsoft Exchange Server"),
        (b"Microsoft Exchange Server 2013", "Microsoft Exchange Server 2013"),
        (b"Microsoft Outlook", "Microsoft Outlook"),
        (b"Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.com>",
         "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.com>"),
        (b'"Microsoft Exchange" <postmaster@example.org>', '"Microsoft Exchange" <postmaster@example.org>'),
        (b"=?utf-8?q?Microsoft_Exchange_Server?=", "Microsoft Exchange Server"),
        (b"Microsoft\x1b[31m Exchange\x07", "Microsoft Exchange"),
    ],
)
def test_sender_names(sender: bytes, expected: str) -> None:
    info = detect_placeholder(substitute(sender=sender))
    assert info is not None
    assert info.server_name == expected
    assert info.original == QUARTERLY


def test_no_from_header() -> None:
    raw = substitute().replace(b"From: Microsoft Exchange Server 2010\r\n", b"")
    info = detect_placeholder(raw)
    assert info is not None and info.server_name is None and info.uid == 15541


# --- bodies: charsets, quoted-printable, apostrophes -----------------------------------------------------

def body_with(subject: str = "Quarterly figures", sender: str = '"Alice Example" <alice@example.org>',
              apostrophe: str = "'") -> str:
    lines = list(BODY_LINES)
    lines[2] = f'Subject: "{subject}"'
    lines[3] = f"From: {sender}"
    return "\n".join(lines).replace("'", apostrophe)


@pytest.mark.parametrize(
    ("charset", "encoding", "subject"),
    [
        ("us-ascii", "qp", "Quarterly figures"),
        ("iso-8859-1", "qp", "Quartalszahlen f\u00fcr M\u00e4rz"),
        ("iso-8859-1", "8bit", "Quartalszahlen f\u00fcr M\u00e4rz"),
        ("utf-8", "qp", "\u56db\u534a\u671f\u306e\u6570\u5b57 \u2014 caf\u00e9"),
        ("utf-8", "8bit", "\u56db\u534a\u671f\u306e\u6570\u5b57 \u2014 caf\u00e9"),
        ("windows-1252", "qp", "Caf\u00e9 \u20ac"),
        ("us-ascii", "qp", 'He said "hi" to "them"'),
        ("utf-8", "qp", "Re: \"budget\" = 42% of \u00a3"),
    ],
)
def test_charsets_and_subjects(charset: str, encoding: str, subject: str) -> None:
    info = detect_placeholder(substitute(charset=charset, encoding=encoding, body=body_with(subject)))
    assert info is not None
    assert info.original.subject == subject
    assert info.original.sender == '"Alice Example" <alice@example.org>'
    assert info.original.date == "1/20/2016 3:41:07 PM"


@pytest.mark.parametrize("charset", ["us-ascii", "utf-8", "iso-8859-1"])
def test_right_single_quotation_mark_as_e2_80_99(charset: str) -> None:
    # Exchange writes U+2019 as =E2=80=99 whatever the part's declared charset
    body = body_with(apostrophe="\u2019")
    raw = substitute(charset=charset, body=body) if charset != "iso-8859-1" else \
        substitute(charset="utf-8", body=body).replace(b'charset="utf-8"', b'charset="iso-8859-1"')
    assert b"=E2=80=99" in raw
    info = detect_placeholder(raw)
    assert info is not None and info.original == QUARTERLY


@pytest.mark.parametrize(
    "breaks_at",
    [("Sent date",), ("couldn't",), ("hasn't",), ("Quarterly",), ("alice@example.org",), ("Subject",),
     ("Sent date", "couldn't", "hasn't", "following", "deleted")],
    ids=lambda words: "+".join(words),
)
def test_soft_line_breaks_anywhere(breaks_at: tuple[str, ...]) -> None:
    raw = substitute(breaks_at=breaks_at)
    assert b"=\r\n" in raw
    info = detect_placeholder(raw)
    assert info is not None and info.original == QUARTERLY


def test_soft_break_inside_an_encoded_apostrophe_run() -> None:
    raw = substitute(body=body_with(apostrophe="\u2019"), charset="utf-8")
    raw = raw.replace(b"couldn=E2=80=99t", b"couldn=E2=\r\n=80=99t")
    info = detect_placeholder(raw)
    assert info is not None and info.original == QUARTERLY


def test_legacy_x500_sender() -> None:
    sender = "Alice Example (/O=EXCHANGELABS/OU=EXCHANGE ADMINISTRATIVE GROUP (FYDIBOHF23SPDLT)/CN=RECIPIENTS/CN=A1)"
    info = detect_placeholder(substitute(body=body_with(sender=sender)))
    assert info is not None and info.original.sender == sender


def test_partial_body_gives_what_it_names() -> None:
    body = "The server couldn't retrieve the following message:\n\nSubject: \"Only this\"\n"
    info = detect_placeholder(substitute(body=body))
    assert info is not None and info.original == Original(subject="Only this")


def test_body_of_one_byte_like_the_seed_bodystructure() -> None:
    info = detect_placeholder(substitute(body=" "))
    assert info is not None and info.uid == 15541 and info.original == Original()


def test_invalid_qp_and_unknown_charset_do_not_raise() -> None:
    raw = substitute().replace(b'charset="us-ascii"', b'charset="x-no-such-charset\x00\xff"')
    raw = raw.replace(b"Quarterly", b"Quar=ZZterly=\r\n=Q=")
    info = detect_placeholder(raw)
    assert info is not None and info.uid == 15541
    assert info.original.sender == '"Alice Example" <alice@example.org>'
    assert info.original.subject is not None and info.original.subject.startswith("Quar=ZZterly")


@pytest.mark.parametrize("tail", [b"=4", b"=", b"=4\r\n", b"=A \r\n"])
def test_an_escape_cut_off_at_the_very_end_still_leaves_the_notice_whole(tail: bytes) -> None:
    """Stored as a mail, a notice would never be fetched again, and with it the mail the server lost."""
    raw = substitute().rstrip(b"\r\n") + tail
    info = detect_placeholder(raw)
    assert info is not None and info.uid == 15541 and info.original == QUARTERLY


@pytest.mark.parametrize("tail", [b"=4 and one more thing", b"=41=42", b"=4\r\nRegards, Bob"])
def test_words_after_the_closing_are_still_a_mail(tail: bytes) -> None:
    assert detect_placeholder(substitute().rstrip(b"\r\n") + tail) is None


def test_hostile_original_fields_are_cleaned() -> None:
    info = detect_placeholder(substitute(charset="utf-8", body=body_with(subject="Pay\x1b[31m now\x07\u202e!")))
    assert info is not None
    assert info.original.subject == "Pay now!"


def test_base64_body() -> None:
    import base64

    payload = base64.encodebytes("\r\n".join(BODY_LINES).encode())
    raw = substitute().split(b"\r\n\r\n", 1)[0].replace(b"quoted-printable", b"base64") + b"\r\n\r\n" + payload
    info = detect_placeholder(raw)
    assert info is not None and info.original == QUARTERLY


def test_multipart_substitute() -> None:
    raw = (
        b"From: Microsoft Exchange Server\r\nSubject: " + PHRASE.encode() + b"\r\n 7\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp("\n".join(BODY_LINES)).replace(b"\n", b"\r\n")
        + b"\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b1--\r\n"
    )
    info = detect_placeholder(raw)
    assert info is not None and info.uid == 7 and info.original == QUARTERLY


def test_mbox_from_line_is_tolerated() -> None:
    info = detect_placeholder(b"From MAILER-DAEMON Wed Jan 20 15:41:07 2016\n" + substitute(crlf=False))
    assert info is not None and info.uid == 15541


def test_bytes_like_inputs() -> None:
    assert detect_placeholder(bytearray(SEED_HEADER)) is not None  # type: ignore[arg-type]
    assert detect_placeholder(memoryview(SEED_HEADER)) is not None  # type: ignore[arg-type]
    assert detect_placeholder("Subject: " + PHRASE + " 1") is None  # type: ignore[arg-type]


# --- secondary signal: the body alone ---------------------------------------------------------------------

@pytest.mark.parametrize("crlf", [True, False], ids=["crlf", "lf"])
def test_body_only_notice_without_headers(crlf: bool) -> None:
    body = qp("\n".join(BODY_LINES), breaks_at=("Sent date",))
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    info = detect_placeholder(body)
    assert info == PlaceholderInfo(uid=None, server_name=None, original=QUARTERLY)


def test_body_only_notice_with_e2_80_99() -> None:
    info = detect_placeholder(qp(body_with(apostrophe="\u2019")).replace(b"\n", b"\r\n"))
    assert info is not None and info.original == QUARTERLY


def test_headers_without_subject_and_the_notice_body() -> None:
    raw = substitute().replace(b"Subject: " + PHRASE.encode() + b"\r\n 15541\r\n", b"")
    info = detect_placeholder(raw)
    assert info == PlaceholderInfo(uid=None, server_name="Microsoft Exchange Server 2010", original=QUARTERLY)


def test_empty_subject_and_the_notice_body() -> None:
    raw = substitute(subject_header=b"Subject:")
    info = detect_placeholder(raw)
    assert info is not None and info.uid is None and info.original == QUARTERLY


# --- negatives ---------------------------------------------------------------------------------------------

QUOTING_BODY = (
    b"Hi IT,\n\nI keep getting this:\n\n> The server couldn't retrieve the following message:\n>\n"
    b"> Subject: \"Quarterly figures\"\n> The message hasn't been deleted.\n\nCan you help?\n"
)

NEGATIVES: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b"\r\n\r\n  \n",
    "normal-crlf": normal_mail(),
    "normal-lf": normal_mail(crlf=False),
    "quoting-the-phrase": normal_mail(subject=b"Help: weird message in Outlook", body=QUOTING_BODY),
    "notice-body-under-own-subject": normal_mail(subject=b"see below",
                                                 body="\n".join(BODY_LINES).encode()),
    "forwarded-notice": normal_mail(subject=b"Fwd: " + PHRASE.encode() + b" 15541",
                                    body=b"---------- Forwarded message ---------\n" + "\n".join(BODY_LINES).encode()),
    "reply-to-notice": normal_mail(subject=b"RE: " + PHRASE.encode() + b"\n 15541", body=b"Fixed now.\n"),
    "subject-with-extra-text": normal_mail(subject=PHRASE.encode() + b" 15541 (again!)"),
    "pasted-subject-by-a-person": normal_mail(subject=PHRASE.encode() + b" 15541",
                                              body=b"Our Exchange keeps sending me this, what does it mean?\n"),
    "phrase-in-another-header": normal_mail().replace(
        b"Subject:", b"X-Note: " + PHRASE.encode() + b" 1\r\nSubject:"),
    "phrase-in-body-only": normal_mail(body=b"Subject: " + PHRASE.encode() + b" 15541\n"),
    "body-only-quoting-mid-text": b"Hello,\n\nThe server couldn't retrieve the following message: x\n"
                                  b"The message hasn't been deleted.\n",
    "no-subject-body-lacks-second-phrase": b"From: a@b\n\nThe server couldn't retrieve the following message:\n",
    "binary-junk": bytes(range(256)) * 64,
    "nul-bytes": b"\x00" * 10_000,
    "only-retrieval-word": b"Retrieval",
    "subject-25-digit-uid": normal_mail(subject=PHRASE.encode() + b" " + b"9" * 25),
    "huge-digit-run": b"Subject: " + PHRASE.encode() + b" " + b"1" * 100_000,
    # A colleague asks about the error, from an address whose domain is outlook.com.
    "colleague-at-outlook-com": normal_mail(subject=PHRASE.encode() + b" 15541", body=b"Hi, I got this error "
                                            b"today, do you know what it means?\n").replace(
        b"Bob <bob@example.org>", b"Carol Jones <carol.jones@outlook.com>"),
    "colleague-quotes-the-whole-notice": normal_mail(
        subject=PHRASE.encode() + b" 15541",
        body=b"Look what I got:\n\n" + "\n".join(BODY_LINES).encode()).replace(
        b"Bob <bob@example.org>", b"exchange-admin@outlook.com"),
    "notice-then-a-question": substitute(body="\n".join(BODY_LINES) + "\n\nWhat should I do?\n",
                                         sender=b"Carol <carol@outlook.com>"),
    "notice-with-an-extra-line-among-the-fields": substitute(
        body="\n".join(BODY_LINES).replace("Sent date:", "I think this was sent on\nSent date:")),
    "empty-body-from-an-outlook-address": normal_mail(subject=PHRASE.encode() + b" 15541", body=b"").replace(
        b"Bob <bob@example.org>", b"carol@outlook.com"),
    "header-only-from-a-person-at-outlook-com": b"From: Carol <carol@outlook.com>\r\nSubject: " + PHRASE.encode()
                                                + b"\r\n 15541\r\n\r\n",
    "whitespace-run-after-the-closing": substitute(body="\n".join(BODY_LINES) + " " * 50_000 + "x"),
}


@pytest.mark.parametrize("raw", list(NEGATIVES.values()), ids=list(NEGATIVES))
def test_not_a_substitute(raw: bytes) -> None:
    assert detect_placeholder(raw) is None


def test_huge_header_of_one_megabyte() -> None:
    raw = b"From: Bob <bob@example.org>\r\n" + b"X-Filler: " + b"a" * (1024 * 1024) + b"\r\nSubject: hi\r\n\r\nx"
    assert detect_placeholder(raw) is None
    folded = b"X-Filler: a\r\n" + b" a\r\n" * (1024 * 1024 // 4) + b"Subject: hi\r\n\r\nx"
    assert detect_placeholder(folded) is None
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(60_000)) + b"\r\nbody"
    assert detect_placeholder(many) is None


def test_huge_header_with_the_phrase_does_not_raise() -> None:
    raw = b"Subject: " + PHRASE.encode() + b" 1\r\n" + b"X-Filler: " + b"=?utf-8?q?" * 200_000 + b"\r\n\r\nx"
    info = detect_placeholder(raw)
    assert info is not None and info.uid == 1


def test_huge_notice_like_body_without_headers_is_not_parsed() -> None:
    raw = b"The server couldn't retrieve the following message:\n" + b"x" * 200_000 + b"\nhasn't been deleted"
    assert detect_placeholder(raw) is None


def test_random_garbage_never_raises() -> None:
    rng = random.Random(5)
    seeds = [substitute(), SEED_HEADER, normal_mail(), qp("\n".join(BODY_LINES))]
    for _ in range(400):
        base = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 30)):
            position = rng.randrange(len(base))
            base[position] = rng.randrange(256)
        if rng.random() < 0.3:
            base = base[: rng.randrange(len(base))]
        result = detect_placeholder(bytes(base))
        assert result is None or isinstance(result, PlaceholderInfo)
    for _ in range(50):
        junk = detect_placeholder(os.urandom(rng.randrange(1, 5000)))
        assert junk is None or isinstance(junk, PlaceholderInfo)


def test_normal_mail_is_cheap() -> None:
    """Not a benchmark: a guard that a big ordinary mail is not parsed (body never looked at)."""
    raw = normal_mail(body=b"x" * 20_000_000)
    started = time.perf_counter()
    for _ in range(20):
        assert detect_placeholder(raw) is None
    assert time.perf_counter() - started < 2.0


def test_a_notice_naming_another_uid_is_not_the_substitute_for_this_one() -> None:
    raw = substitute()  # names UID 15541
    assert substitute_for(raw, 15541) is not None
    assert substitute_for(raw, 2) is None
    assert substitute_for(substitute(subject_header=b"Subject: " + PHRASE.encode()), 2) is not None  # no number
