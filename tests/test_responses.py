"""responses.py: imaplib2 FETCH data in, meaning out."""

from __future__ import annotations

import pytest

from offlineimap_phantomfix.responses import (
    AnswerKind,
    classify_fetch,
    imaplib2_error_words,
    locate_uid,
    parse_fetch_data,
    search_has_uid,
    value_text,
)

MESSAGE = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


def test_literal_body_with_uid_before_and_after() -> None:
    before = [(b"5 (UID 105 FLAGS (\\Seen) BODY[] {%d}" % len(MESSAGE), MESSAGE), b")"]
    after = [(b"5 (BODY[] {%d}" % len(MESSAGE), MESSAGE), b" UID 105 FLAGS (\\Seen))"]
    for data in (before, after):
        (response,) = parse_fetch_data(data)
        assert response.msn == 5
        assert response.uid == 105
        assert response.content() == MESSAGE
        assert response.attributes["FLAGS"] == [b"\\Seen"]


def test_two_literals_in_one_response_stay_one_response() -> None:
    data = [(b"7 (UID 9 BODY[HEADER] {4}", b"H: x"), (b" BODY[TEXT] {4}", b"body"), b")"]
    (response,) = parse_fetch_data(data)
    assert response.attributes["BODY[HEADER]"] == b"H: x"
    assert response.attributes["BODY[TEXT]"] == b"body"


def test_several_responses_and_unsolicited_flag_updates() -> None:
    data = [b"3 (FLAGS (\\Seen) UID 30)", (b"4 (UID 40 BODY[] {4}", b"abcd"), b")", b"5 (UID 50 FLAGS ())"]
    responses = parse_fetch_data(data)
    assert [r.uid for r in responses] == [30, 40, 50]
    answer = classify_fetch("OK", data, 40)
    assert answer.kind is AnswerKind.DELIVERED and answer.content == b"abcd" and answer.msn == 4


def test_header_fields_section_with_spaces_and_parens_is_one_name() -> None:
    data = [(b"1045 (BODY[HEADER.FIELDS (from subject)] {6}", b"From: "), b" UID 15541)"]
    (response,) = parse_fetch_data(data)
    assert "BODY[HEADER.FIELDS (FROM SUBJECT)]" in response.attributes
    assert response.uid == 15541


def test_bodystructure_nested_lists_quoted_and_nil() -> None:
    data = [b'1045 (BODY ("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 1 1) FLAGS ())']
    (response,) = parse_fetch_data(data)
    body = response.attributes["BODY"]
    assert isinstance(body, list) and body[2] == [b"charset", b"iso-8859-1"] and body[3] is None
    assert value_text(body) == "(text plain (charset iso-8859-1) NIL NIL quoted-printable 1 1)"


@pytest.mark.parametrize(
    ("typ", "data", "kind", "said"),
    [
        ("OK", [None], AnswerKind.EMPTY, ""),  # Exchange: tagged OK only
        ("OK", [b"5 (UID 105 BODY[] NIL)"], AnswerKind.NIL, ""),  # RFC 2180 expunged under our feet
        ("OK", [b"5 (UID 106 FLAGS ())"], AnswerKind.EMPTY, ""),  # only another message's flag update
        ("NO", [b"The requested message could not be converted to an RFC-822 compatible format."],
         AnswerKind.REFUSED, "NO The requested message could not be converted to an RFC-822 compatible format."),
        ("BAD", [b"Command Argument Error. 11"], AnswerKind.REFUSED, "BAD Command Argument Error. 11"),
        ("NO", [b"[SERVERBUG] Internal error occurred. Refer to server log for more information."],
         AnswerKind.REFUSED, "NO [SERVERBUG] Internal error occurred. Refer to server log for more information."),
        ("NO", [b"System Error (Failure)"], AnswerKind.REFUSED, "NO System Error (Failure)"),
    ],
)
def test_classify_server_answers(typ: str, data: list[object], kind: AnswerKind, said: str) -> None:
    answer = classify_fetch(typ, data, 105)
    assert answer.kind is kind
    assert answer.server_said == said


def test_sequence_fetch_with_another_uid_is_a_mismatch_not_content() -> None:
    data = [(b"1045 (UID 15544 BODY[] {4}", b"abcd"), b")"]
    answer = classify_fetch("OK", data, 15541, by_sequence=True)
    assert answer.kind is AnswerKind.MISMATCH
    assert answer.content is None
    assert "15544" in answer.server_said


def test_server_words_lose_control_characters() -> None:
    answer = classify_fetch("NO", [b"bad \x1b[31mred\x1b[0m \x07bell"], 1)
    assert answer.server_said == "NO bad red bell"


def test_locate_and_search() -> None:
    assert locate_uid([b"1045 (UID 15541 FLAGS ())"], 15541) is not None
    assert locate_uid([None], 15541) is None
    assert search_has_uid([b"15541"], 15541)
    assert not search_has_uid([b"155410 15542"], 15541)
    assert not search_has_uid([None], 15541)


@pytest.mark.parametrize(
    "junk",
    [[b"garbage"], [b"12"], [b"12 ("], [(b"12 (BODY[] {3}", b"abc")], [b")"], [b"5 (UID"], [object()], []],
)
def test_junk_never_raises(junk: list[object]) -> None:
    parse_fetch_data(junk)
    classify_fetch("OK", junk, 12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UID command error: BAD [b'Command Argument Error. 11']. Data: b'HOCJ10 UID FETCH 6 (BODY.PEEK[])'",
         ("BAD", "Command Argument Error. 11")),
        ('FETCH command error: BAD [b"it\'s broken"]. Data: x', ("BAD", "it's broken")),
        ("socket error: EOF", ("", "socket error: EOF")),
    ],
)
def test_imaplib2_error_words_drop_the_tag_and_command(text: str, expected: tuple[str, str]) -> None:
    assert imaplib2_error_words(text) == expected
