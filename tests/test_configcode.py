"""configcode.py: a failure of the configuration's own Python code is told from one of ours. The configuration's
code is evaluated here by offlineimap's own evaluator, as a sync or the helper command evaluates it."""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from offlineimap.localeval import LocalEval

from offlineimap_phantomfix.configcode import configuration_code_failure
from offlineimap_phantomfix.verdicts import MessageKey


def _raised(call: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as raised:
        call()
    return raised.value


PYTHONFILE = "import re\ndef broken_nametrans(name):\n    return {}['Work'] + name\n"


@pytest.mark.parametrize("pythonfile", [False, True], ids=["without-pythonfile", "with-pythonfile"])
def test_an_expression_of_the_offlineimaprc_that_raises_is_configuration_code(tmp_path: Path,
                                                                              pythonfile: bool) -> None:
    path = tmp_path / "offlineimap.py"
    path.write_text(PYTHONFILE, encoding="utf-8")
    evaluator = LocalEval(str(path) if pythonfile else None)
    nametrans = evaluator.eval("lambda f: 'Work.' + undefined_name")
    error = _raised(lambda: nametrans("INBOX"))
    words = configuration_code_failure(error)
    assert words is not None and words.endswith(
        "raised NameError: name 'undefined_name' is not defined; offlineimap would fail on it too")


def test_a_function_of_the_pythonfile_that_raises_is_configuration_code(tmp_path: Path) -> None:
    path = tmp_path / "offlineimap.py"
    path.write_text(PYTHONFILE, encoding="utf-8")
    nametrans = LocalEval(str(path)).eval("broken_nametrans")
    assert configuration_code_failure(_raised(lambda: nametrans("INBOX"))) is not None


@pytest.mark.parametrize("text", ["lambda f: re.sub(r'^Work\\.', '', f))", "undefined_function"])
def test_an_expression_that_cannot_be_evaluated_is_configuration_code(text: str) -> None:
    error = _raised(lambda: LocalEval().eval(text))  # a SyntaxError runs no code of its own
    assert isinstance(error, (SyntaxError, NameError)) and configuration_code_failure(error) is not None


@dataclasses.dataclass
class _Checked:
    value: int

    def __post_init__(self) -> None:
        raise KeyError("uid")


Pair = namedtuple("Pair", "a b")


@pytest.mark.parametrize("defect", [
    lambda: setattr(MessageKey("a", "r", "INBOX", 1, 2), "uid", 3),  # dataclass code is exec()'d "<string>"
    lambda: sorted([MessageKey("a", "r", "INBOX", None, 1), MessageKey("a", "r", "INBOX", 5, 2)]),  # type: ignore[arg-type]
    lambda: _Checked(1),
    lambda: Pair(1),  # type: ignore[call-arg]
    lambda: {}["uid"],
], ids=["frozen-dataclass", "dataclass-order", "post-init", "namedtuple", "plain"])
def test_our_own_defects_are_not(defect: Callable[[], Any]) -> None:
    assert configuration_code_failure(_raised(defect)) is None


def test_the_words_are_one_clean_line() -> None:
    nametrans = LocalEval().eval("lambda f: (_ for _ in ()).throw(ValueError(f))")
    words = configuration_code_failure(_raised(lambda: nametrans("bad\nname\x1b[31m")))
    assert words is not None and "\n" not in words and "\x1b" not in words
