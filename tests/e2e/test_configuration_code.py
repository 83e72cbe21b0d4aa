"""The configuration's own Python code raises (a typo in a nametrans, a pythonfile function that fails): every
command that builds folders the way offlineimap does ends with one line naming the error, exit status 1, no
traceback, and changes nothing; doctor reports it as the failing check's error line and goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .lifecycle_helpers import helper
from .test_purge_checks import MAPPINGS, _changes, _files, _mapped_mailbox

pytestmark = pytest.mark.e2e

NEEDLE = "Python code of the offlineimap configuration (a nametrans, folderfilter or other expression, or a function " \
         "of the pythonfile) raised "
FOLDER = MAPPINGS["prefix-both-ways"]
# The working expression of each side, and what breaks it: a name that does not exist, or a pythonfile function
# that raises (offlineimap runs the pythonfile first and evaluates the expressions with its names).
BREAKS = {
    "remote-expression": ("'Work.' + f", "'Work.' + undefined_name", "NameError: name 'undefined_name' is not defined"),
    "local-expression": ("'', f)", "'', undefined_name)", "NameError: name 'undefined_name' is not defined"),
    "pythonfile-function": ("lambda f: 'Work.' + f", "broken_nametrans", "KeyError: 'Work'"),
    "local-syntax-error": ("'', f)", "'', f))", "SyntaxError: unmatched ')'"),
}
PYTHONFILE_FUNCTION = "def broken_nametrans(name):\n    return {}['Work'] + name\n"


def _break(setup: Any, case: str) -> str:
    working, broken, words = BREAKS[case]
    text = setup.config.read_text(encoding="utf-8")
    assert text.count(working) == 1
    setup.config.write_text(text.replace(working, broken), encoding="utf-8")
    if case == "pythonfile-function":
        assert setup.pythonfile is not None
        with open(setup.pythonfile, "a", encoding="utf-8") as pythonfile:
            pythonfile.write(PYTHONFILE_FUNCTION)
    return words


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_every_command_names_the_failing_configuration_code_in_one_line(emulator: Any, tmp_path: Path,
                                                                        case: str) -> None:
    setup, uid, path = _mapped_mailbox(emulator, tmp_path, FOLDER)
    words = _break(setup, case)
    before = _files(tmp_path)
    target = ("--account", setup.account, "--folder", FOLDER.named, "--uid", str(uid))
    named = []
    for command in (("probe", *target), ("adopt",), ("adopt", "--yes")):
        status, out, err = helper(setup, *command)
        if NEEDLE in err:
            assert status == 1 and len(err.strip().splitlines()) == 1, (command, err)
            assert words in err and err.rstrip().endswith("nothing was changed"), (command, err)
            named.append(command[-1] if command[0] == "adopt" else command[0])
        else:  # a command that does not need the broken side works
            assert "Traceback" not in err, (command, out, err)
    # probe builds the server folder only
    assert named == (["adopt", "--yes"] if case.startswith("local") else ["probe", "adopt", "--yes"])
    # doctor builds the local repository to count notices in its folders: that check fails, the others run
    status, out, err = helper(setup, "doctor", "--offlineimap", str(Path(sys.executable).parent / "offlineimap"))
    failed = [line for line in out.splitlines() if line.startswith("error")]
    if case.startswith("local"):
        assert status == 1 and err == "", (out, err)
        assert len(failed) == 1 and f"account {setup.account}: Maildir: {NEEDLE}{words}" in failed[0], out
        assert f"account {setup.account}: store:" in out, "the checks after it still run"
    else:
        assert (status, failed, err) == (0, [], ""), out
    for dry_or_yes in ((), ("--yes",)):  # purge has its own refusal: it cannot tell where the local copy is
        status, out, err = helper(setup, "purge", *target, *dry_or_yes)
        assert status == 1 and "cannot tell which local folder offlineimap syncs it to" in err, err
        assert words in err, err
    assert _changes(emulator) == []
    assert _files(tmp_path) == before
    assert path.is_file()


def test_the_program_prints_one_line_not_a_traceback(emulator: Any, tmp_path: Path) -> None:
    setup, uid, _ = _mapped_mailbox(emulator, tmp_path, FOLDER)
    words = _break(setup, "remote-expression")
    probe = subprocess.run([sys.executable, "-m", "offlineimap_phantomfix", "-c", str(setup.config), "probe",
                            "--account", setup.account, "--folder", FOLDER.named, "--uid", str(uid)],
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 1, probe
    assert probe.stderr == f"offlineimap-phantomfix: error: {NEEDLE}{words}; offlineimap would fail on it too; " \
                           "nothing was changed\n", probe.stderr
