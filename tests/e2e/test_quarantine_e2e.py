"""The quarantine as a mail reader leaves it, after real PhantomSafeIMAP syncs against the emulator: items moved
from new/ to cur/ with flags, items deleted, and a ``clear`` followed by a sync."""

from __future__ import annotations

import json
import mailbox
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.quarantine import GONE_NOTE
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.verdicts import Verdict
from tests.e2e.test_cli_e2e import ACCOUNT, LOST_SUBJECT, PHANTOMS, VERDICTS, Synced, pytestmark, sync, synced

__all__ = ["pytestmark", "synced"]


def items(synced: Synced) -> list[Path]:
    maildir = synced.state / "quarantine" / ACCOUNT
    return sorted(path for sub in ("new", "cur") for path in (maildir / sub).iterdir())


def recorded(synced: Synced) -> dict[tuple[str, int], dict[str, Any]]:
    return {(m["folder"], m["uid"]): m for m in synced.report()}


def test_report_and_doctor_follow_items_a_reader_moved_or_deleted(synced: Synced) -> None:
    before = recorded(synced)
    placeholder = next(key for key, fault in synced.phantoms.items() if fault is Fault.PLACEHOLDER)
    empty = next(key for key, fault in synced.phantoms.items() if fault is Fault.EMPTY)
    # what Mutt does on reading the item: new/<name> becomes cur/<name>:2,S
    read_from = Path(before[placeholder]["quarantine"])
    read_to = read_from.parent.parent / "cur" / f"{read_from.name}:2,S"
    read_from.rename(read_to)
    status, out, err = synced.helper("doctor")
    assert f"ok      account {ACCOUNT}: quarantine: 4 recorded items, all in place" in out, out + err

    after = recorded(synced)
    assert after[placeholder]["quarantine"] == str(read_to)
    status, text, _ = synced.helper("report", "--long")
    assert status == 0 and f"quarantine:  {read_to}\n" in text
    box = mailbox.Maildir(str(read_to.parent.parent), factory=None, create=False)
    assert any(LOST_SUBJECT in " ".join(str(message["Subject"]).split()) for message in box)

    # an item deleted in the reader: doctor says so, the report marks it, JSON has no file for it
    deleted = Path(before[empty]["quarantine"])
    deleted.unlink()
    status, out, _ = synced.helper("doctor")
    line = next(line for line in out.splitlines() if f"account {ACCOUNT}: quarantine" in line)
    assert line.startswith("warning") and "1 of 4 recorded quarantine items" in line and str(deleted) in line
    assert recorded(synced)[empty]["quarantine"] is None
    assert f"quarantine:  {deleted}{GONE_NOTE}\n" in synced.helper("report", "--long")[1]


def test_clear_then_sync_keeps_one_item_and_the_first_sighting(synced: Synced) -> None:
    before = recorded(synced)
    files_before = items(synced)
    placeholder = next(key for key, fault in synced.phantoms.items() if fault is Fault.PLACEHOLDER)
    item = Path(before[placeholder]["quarantine"])
    moved = item.parent.parent / "cur" / f"{item.name}:2,RS"  # read and replied to, in the reader
    item.rename(moved)
    status, _, err = synced.helper("clear", "--account", ACCOUNT)
    assert status == 0, err
    assert synced.report() == []

    sync(synced.setup)
    after = recorded(synced)
    assert set(after) == {key for key, fault in synced.phantoms.items() if fault is not Fault.VANISH}
    assert items(synced) == sorted([*(path for path in files_before if path != item), moved])
    for key, message in after.items():
        assert message["first_seen"] == before[key]["first_seen"], key
        assert message["attempts"] == 1  # a new row, dated by the item kept from before
        # a first refusal or drop is tried again next sync; the others are skipped at once
        assert message["skipped"] is not Verdict(message["verdict"]).may_pass, key
    assert after[placeholder]["quarantine"] == str(moved)
    assert json.loads(synced.helper("report", "--json")[1])["messages"][0]["quarantine"] is not None


def test_mutt_index_and_pager_show_the_lost_subject_without_carriage_returns(synced: Synced, tmp_path: Path) -> None:
    mutt, tmux = shutil.which("mutt"), shutil.which("tmux")
    if mutt is None or tmux is None:
        pytest.fail("mutt and tmux are not installed (make test installs Debian's mutt and tmux)")
    maildir = synced.state / "quarantine" / ACCOUNT
    home = tmp_path / "home"
    home.mkdir()
    muttrc = home / "muttrc"
    muttrc.write_text(f'set folder="{maildir}"\nset spoolfile="{maildir}"\nset sort=subject\n'
                      'set index_format="%4C %s"\nset pager_stop=yes\n', encoding="utf-8")
    socket = tmp_path / "tmux.socket"

    def tmux_run(*args: str) -> str:
        done = subprocess.run([tmux, "-S", str(socket), *args], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen_once(ready: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + 60
        while True:
            shown = tmux_run("capture-pane", "-p", "-t", "mutt")
            if ready(shown) or time.monotonic() > deadline:
                return shown
            time.sleep(0.2)

    command = f"env -i TERM=xterm HOME={home} PATH=/usr/bin:/bin {mutt} -n -F {muttrc} -R -f {maildir}"
    tmux_run("new-session", "-d", "-s", "mutt", "-x", "160", "-y", "30", command)
    try:
        index = screen_once(lambda shown: "Msgs:" in shown)
        lines = [line.strip() for line in index.splitlines() if "[phantom]" in line]
        # every item names its lost mail: the placeholder's from its notice, the others' from the ENVELOPE
        subjects = {(folder, fault): subject for folder, fault, subject in PHANTOMS}
        expected = sorted(f"[phantom] {subjects[folder, fault]} ({folder} UID {uid}, {VERDICTS[fault]})"
                          for (folder, uid), fault in synced.phantoms.items() if fault is not Fault.VANISH)
        assert lines == [f"{number} {line}" for number, line in enumerate(expected, start=1)], index
        assert any(LOST_SUBJECT in line and "placeholder" in line for line in lines), index
        tmux_run("send-keys", "-t", "mutt", "Enter")  # open the first in the pager
        pager = screen_once(lambda shown: "Subject: [phantom]" in shown)
        assert f"Subject: {expected[0]}" in pager, pager
        assert "^M" not in pager and "1970" not in pager, pager
        verdict = expected[0].rsplit(", ", 1)[1].rstrip(")")
        assert f"could not sync one message ({verdict})" in pager, pager
    finally:
        subprocess.run([tmux, "-S", str(socket), "kill-server"], capture_output=True, timeout=60, check=False)
