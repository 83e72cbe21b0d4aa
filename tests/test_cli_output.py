"""The command's output under real terminals and pipes: ``report --new | head`` marks nothing it did not
deliver, and a terminal that cannot show a character gets a replacement, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from offlineimap_phantomfix import marks
from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing import ACTIVATION_LINES, write_offlineimaprc
from offlineimap_phantomfix.testing.harness import OfflineimapSetup, offlineimap_env
from offlineimap_phantomfix.verdicts import MessageKey, Original, Verdict

MANY = 600  # well over a pipe buffer of report text


@pytest.fixture
def setup(tmp_path: Path) -> OfflineimapSetup:
    made = write_offlineimaprc(tmp_path, port=1, repo_type="PhantomSafeIMAP", pythonfile_lines=list(ACTIVATION_LINES))
    with PhantomStore(made.metadata / "phantomfix") as store:
        for uid in range(1, MANY + 1):
            store.record(MessageKey("Test", "TestRemote", "Entwürfe", 1, uid), Verdict.PLACEHOLDER, skipped=True,
                         original=Original(subject=f"Grüße, Übersicht {uid} — 報告", sender=None, date=None))
    return made


def _reported(made: OfflineimapSetup) -> int:
    """How many records the default reader of ``report --new`` has been shown."""
    with PhantomStore(made.metadata / "phantomfix") as store:
        records = store.records()
        return len(records) - len(marks.unshown(store, records, "default"))


def _command(made: OfflineimapSetup, *argv: str) -> list[str]:
    return [sys.executable, "-m", "offlineimap_phantomfix", "-c", str(made.config), *argv]


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_report_new_into_head_marks_nothing(setup: OfflineimapSetup, unbuffered: str) -> None:
    env = offlineimap_env(setup, {"PYTHONUNBUFFERED": unbuffered})
    env.pop("PYTHONUNBUFFERED") if not unbuffered else None
    report = subprocess.Popen(_command(setup, "report", "--long", "--new"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
    assert report.stdout is not None
    first = report.stdout.readline()  # what `head -1` reads before it goes away
    report.stdout.close()
    _, err = report.communicate(timeout=120)
    assert first.startswith(b"offlineimap-phantomfix report")
    assert report.returncode == 1 and b"Traceback" not in err, err
    assert _reported(setup) == 0  # the rest never reached anyone: shown again next time

    full = subprocess.run(_command(setup, "report", "--long", "--new"), capture_output=True, env=env, timeout=120,
                          check=False)
    assert full.returncode == 0 and full.stdout.count(b"  Entw") == MANY
    assert _reported(setup) == MANY


def test_report_into_a_closed_pipe(setup: OfflineimapSetup) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(_command(setup, "report", "--new"), stdout=write_end, stderr=subprocess.PIPE,
                              env=offlineimap_env(setup), timeout=120, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == 1 and b"Traceback" not in done.stderr, done.stderr
    assert _reported(setup) == 0


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_narrow_terminal_encoding_gets_replacements(setup: OfflineimapSetup, encoding: str) -> None:
    env = offlineimap_env(setup, {"PYTHONIOENCODING": encoding, "LC_ALL": "C"})
    for argv in (["report"], ["report", "--long"], ["report", "--json"], ["clear", "--account", "Test", "--dry-run"]):
        done = subprocess.run(_command(setup, *argv), capture_output=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert b"Traceback" not in done.stderr
        text = done.stdout.decode(encoding)
        # the short report names the folder once, above its lines; the others once per message
        assert text.count("Entw") >= (1 if argv == ["report"] else MANY)
        assert argv[0] == "clear" or text.count("bersicht") >= MANY  # every lost subject, in any encoding
