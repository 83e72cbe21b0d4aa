"""configcode.py: a failure of the configuration's own Python code is told from one of ours."""

from __future__ import annotations

import types

import pytest

from offlineimap_phantomfix.configcode import configuration_code_words, raised_in_configuration_code


def _raised(call: object) -> BaseException:
    with pytest.raises(Exception) as raised:
        call()  # type: ignore[operator]
    return raised.value


def test_an_expression_evaluated_from_the_offlineimaprc_is_configuration_code() -> None:
    nametrans = eval("lambda f: 'Work.' + undefined_name")  # as offlineimap evaluates it
    error = _raised(lambda: [nametrans(name) for name in ("INBOX",)])
    assert raised_in_configuration_code(error)
    assert configuration_code_words(error).endswith(
        "raised NameError: name 'undefined_name' is not defined; offlineimap would fail on it too")


def test_a_function_of_the_pythonfile_is_configuration_code() -> None:
    pythonfile = types.ModuleType("<none>")  # offlineimap loads the pythonfile under this module name
    exec(compile("def nametrans(name):\n    return {}['Work'] + name\n", "/home/u/.offlineimap.py", "exec"),
         pythonfile.__dict__)
    assert raised_in_configuration_code(_raised(lambda: pythonfile.nametrans("INBOX")))


def test_our_own_failure_is_not() -> None:
    def ours() -> None:
        raise KeyError("uid")

    assert not raised_in_configuration_code(_raised(ours))


def test_the_words_are_one_clean_line() -> None:
    words = configuration_code_words(ValueError("bad\nname\x1b[31m"))
    assert "\n" not in words and "\x1b" not in words
