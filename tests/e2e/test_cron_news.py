"""News by cron: the real offlineimap run as cron runs it (no terminal, stdout and stderr captured together),
with ``-u quiet`` and ``-u basic``, one account and two. A sync that finds a phantom says so once, naming the
account; the next sync, which finds nothing new, adds nothing (with ``-u quiet``: not one byte, so cron mails
nothing)."""

from __future__ import annotations

import configparser
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import OfflineimapSetup, SyncResult
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox

from .lifecycle_helpers import helper
from .phantomsafe_helpers import phantomsafe_setup, records, sync

pytestmark = pytest.mark.e2e

# Each account syncs its own folder of the one emulated mailbox, with one phantom in it.
FOLDERS = {"Work": "INBOX", "Play": "Lists"}


def _mailbox(emulator: Any, accounts: list[str]) -> dict[str, int]:
    healthy_mailbox(emulator, {FOLDERS[name]: 4 for name in accounts})
    phantoms = {}
    for number, name in enumerate(accounts):
        message = make_message(100 + number, subject=f"Lost mail of {name}")
        phantoms[name] = emulator.append(FOLDERS[name], message, fault=Fault.EMPTY)
    return phantoms


def _setup(emulator: Any, tmp_path: Path, accounts: list[str]) -> OfflineimapSetup:
    """One offlineimaprc with these accounts (a shared state directory, as by default), each limited to its
    folder."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    first: OfflineimapSetup | None = None
    for name in accounts:
        folder = FOLDERS[name]
        setup = phantomsafe_setup(tmp_path / name, emulator,
                                  remote_options={"folderfilter": f"lambda name: name == {folder!r}"})
        single = configparser.ConfigParser(interpolation=None)
        single.optionxform = str  # type: ignore[assignment,method-assign]
        single.read(setup.config)
        for section in single.sections():
            renamed = section.replace("Test", name)
            if section == "general" and first is not None:
                continue
            parser[renamed] = {key: value.replace("Test", name) for key, value in single[section].items()}
        first = first or setup
    assert first is not None
    parser["general"]["accounts"] = ", ".join(accounts)
    config = tmp_path / "offlineimaprc"
    with config.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return replace(first, workdir=tmp_path, config=config)


def _cron_run(setup: OfflineimapSetup, ui: str) -> SyncResult:
    result = sync(setup, "-u", ui)  # the harness runs `-u basic`; a later -u wins, as on a command line
    assert result.returncode == 0, result.output
    return result


def _news(output: str, account: str, uid: int) -> list[str]:
    """The lines that tell this account's news: the phantom's own line and the sync's summary of it."""
    tag = f"phantomfix: [{account}] "
    return [line for line in output.splitlines()
            if tag in line and (re.search(rf"\bUID {uid}\b", line) or "new phantom" in line)]


@pytest.mark.parametrize("accounts", [["Work"], ["Work", "Play"]], ids=["one-account", "two-accounts"])
@pytest.mark.parametrize("ui", ["quiet", "basic"])
def test_each_syncs_news_reaches_cron_once(emulator: Any, tmp_path: Path, ui: str, accounts: list[str]) -> None:
    phantoms = _mailbox(emulator, accounts)
    setup = _setup(emulator, tmp_path, accounts)

    first = _cron_run(setup, ui)
    for name in accounts:
        news = _news(first.output, name, phantoms[name])
        assert len(news) == 2, first.output  # the phantom's line, then the summary naming the report command
        assert f"{FOLDERS[name]} UID {phantoms[name]}: empty:" in news[0]
        assert "1 new phantom (1 empty)" in news[1] and "next retry" in news[1]
        assert f"list: offlineimap-phantomfix report --account {name}" in news[1]
        for other in accounts:
            if other != name:
                assert not any(f"{FOLDERS[other]} UID" in line for line in news), first.output
    if ui == "quiet":
        phantom_lines = [line for line in first.output.splitlines() if "phantomfix" in line]
        assert first.output.strip().splitlines() == phantom_lines, first.output  # nothing but the news
    assert {(r.key.account, r.key.uid) for r in records(setup)} == set(phantoms.items())

    second = _cron_run(setup, ui)
    for name in accounts:
        assert _news(second.output, name, phantoms[name]) == [], second.output
    if ui == "quiet":
        assert second.output == "", second.output  # cron mails nothing
    else:  # an interactive-style run still says what is skipped and until when, as information
        for name in accounts:
            still = f"phantomfix: [{name}] 1 still skipped; next retry"
            assert any(still in line for line in second.output.splitlines()), second.output


def test_a_morning_summary_by_cron_takes_nobodys_news(emulator: Any, tmp_path: Path) -> None:
    """The README's `report --new cron` line after real syncs of two accounts: all news once, then silence,
    while the reader by hand still has all of it."""
    phantoms = _mailbox(emulator, ["Work", "Play"])
    setup = _setup(emulator, tmp_path, ["Work", "Play"])
    _cron_run(setup, "quiet")
    status, morning, err = helper(setup, "report", "--new", "cron")
    assert status == 0 and err == "", err
    for name, uid in phantoms.items():
        step = f"probe --account {name} --folder {FOLDERS[name]} --uid {uid}"
        assert len([line for line in morning.splitlines() if line.startswith(f"    UID {uid} ") and step in line]) == 1
        assert f"Account {name}, 1 undelivered message: 1 skipped" in morning
    assert helper(setup, "report", "--new", "cron") == (0, "", "")
    _cron_run(setup, "quiet")  # a sync with nothing new moves nothing
    assert helper(setup, "report", "--new", "cron") == (0, "", "")
    status, by_hand, _ = helper(setup, "report", "--new", "--account", "Play")
    assert status == 0 and "Account Play" in by_hand and "Account Work" not in by_hand
