"""patches/ against the real offlineimap: each test runs a private, patched copy of the installed package.

0001 makes ``type = PhantomSafeIMAP`` work without a ``[general] pythonfile`` (entry points), 0002 fixes the
retry after a dropped connection. See patches/README.md.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from offlineimap_phantomfix.testing import (
    EmulatorServer,
    Fault,
    OfflineimapSetup,
    Scenario,
    SyncResult,
    build_fault_scenario,
    healthy_mailbox,
    normalise_newlines,
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)

from .patching import (
    WRONG_COPY_EXIT,
    installed_offlineimap,
    offlineimap_from,
    patch_file,
    patched_copy,
    probe,
    run_patch,
    tree_bytes,
)

pytestmark = pytest.mark.e2e

NOT_SUPPORTED = "ERROR: '{type}' repository not supported for '{side}' repositories."
VARIANTS = {"stock": (), "0001": ("0001",), "0002": ("0002",), "both": ("0001", "0002")}
CHANGED = {"0001": "offlineimap/repository/__init__.py", "0002": "offlineimap/folder/IMAP.py"}


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One copy of the installed offlineimap per variant, patched; each checked to be what gets imported."""
    if shutil.which("patch") is None:
        pytest.fail("the 'patch' program is required for these tests (apt-get install patch)")
    base = tmp_path_factory.mktemp("patched")
    result = {name: patched_copy(base / name / "site", patches) for name, patches in VARIANTS.items()}
    for name, site in result.items():
        where = probe(site, write_offlineimaprc(base / name / "probe", port=1))
        for module in ("offlineimap", "repository", "folder_imap"):
            assert str(where[module]).startswith(str(site.resolve())), (name, where)
        assert where["version"] == "8.0.3"
        assert (where["entry_point_group"] is not None) == ("0001" in VARIANTS[name]), (name, where)
    return result


def sync(site: Path, setup: OfflineimapSetup, *, extra_paths: tuple[Path, ...] = ()) -> SyncResult:
    result = run_offlineimap(setup, command=offlineimap_from(site, extra_paths=extra_paths), timeout=120)
    assert result.returncode != WRONG_COPY_EXIT, result.output
    return result


def config(
    server: EmulatorServer, workdir: Path, repo_type: str, *, local_options: dict[str, str] | None = None
) -> OfflineimapSetup:
    """No pythonfile: whatever makes ``repo_type`` known must come from the (patched) program itself."""
    setup = write_offlineimaprc(
        workdir, port=server.port, repo_type=repo_type, maxconnections=1, local_options=local_options
    )
    assert "pythonfile" not in setup.config.read_text()
    return setup


def assert_synced(server: EmulatorServer, setup: OfflineimapSetup, folder: str, uids: list[int]) -> None:
    """The Maildir folder holds exactly ``uids``, each with the server's bytes."""
    local = {m.uid: m for m in read_maildir(setup.maildir).get(folder, [])}
    assert sorted(u for u in local if u is not None) == sorted(uids), f"{folder}: {sorted(local, key=str)}"
    stored = {m.uid: m for m in server.messages(folder)}
    for uid in uids:
        assert normalise_newlines(local[uid].raw) == normalise_newlines(stored[uid].raw), f"{folder} UID {uid}"


def assert_scenario_synced(server: EmulatorServer, setup: OfflineimapSetup, scenario: Scenario) -> None:
    """Every healthy message of the scenario (both folders) landed; the phantom did not."""
    assert_synced(server, setup, scenario.folder, scenario.healthy_uids)
    if scenario.second_folder is not None:
        assert_synced(server, setup, scenario.second_folder, scenario.second_uids or [])


# --- the patch files themselves ----------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["0001", "0002"])
def test_patch_is_in_git_format_patch_form_with_p1_paths(number: str) -> None:
    text = patch_file(number).read_text(encoding="utf-8")
    assert re.match(r"From [0-9a-f]{40} ", text)
    for header in ("From: ", "Date: ", "Subject: [PATCH "):
        assert re.search(rf"^{re.escape(header)}", text, re.M), header
    paths = re.findall(r"^(?:---|\+\+\+) (\S+)", text, re.M)
    assert paths, "no file headers"
    assert set(paths) == {f"a/{CHANGED[number]}", f"b/{CHANGED[number]}"}


@pytest.mark.parametrize("applied", [("0001",), ("0002",), ("0001", "0002")], ids="+".join)
def test_patches_reverse_to_the_original_bytes(tmp_path: Path, applied: tuple[str, ...]) -> None:
    original = tree_bytes(installed_offlineimap())
    site = patched_copy(tmp_path / "site", applied)
    patched = tree_bytes(site / "offlineimap")
    changed = {name for name in original if patched[name] != original[name]}
    assert changed == {CHANGED[n].removeprefix("offlineimap/") for n in applied}
    assert patched.keys() == original.keys()
    for number in reversed(applied):
        run_patch(site, patch_file(number), reverse=True)
    assert tree_bytes(site / "offlineimap") == original


# --- 0001: repository types from entry points ---------------------------------------------------------------


def test_stock_offlineimap_does_not_know_phantomsafe_without_pythonfile(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path
) -> None:
    healthy_mailbox(emulator, {"INBOX": 3})
    setup = config(emulator, tmp_path, "PhantomSafeIMAP")
    result = sync(sites["stock"], setup)
    assert result.returncode == 1, result.output
    assert NOT_SUPPORTED.format(type="PhantomSafeIMAP", side="remote") in result.output
    assert not read_maildir(setup.maildir).get("INBOX")


def test_0001_phantomsafe_syncs_a_healthy_mailbox_without_pythonfile(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path
) -> None:
    uids = healthy_mailbox(emulator, {"INBOX": 8, "Archive": 5})
    setup = config(emulator, tmp_path, "PhantomSafeIMAP")
    result = sync(sites["0001"], setup)
    assert result.returncode == 0, result.output
    assert "not supported" not in result.output
    for folder, folder_uids in uids.items():
        assert_synced(emulator, setup, folder, folder_uids)


def test_0001_phantomsafe_gets_past_an_empty_phantom_without_pythonfile(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path
) -> None:
    scenario = build_fault_scenario(emulator, Fault.EMPTY, healthy=12)
    setup = config(emulator, tmp_path, "PhantomSafeIMAP")
    result = sync(sites["0001"], setup)
    assert result.returncode == 0, result.output
    assert_scenario_synced(emulator, setup, scenario)


def test_0001_unknown_type_still_gets_upstreams_error(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path
) -> None:
    setup = config(emulator, tmp_path, "NoSuchType")
    result = sync(sites["0001"], setup)
    assert result.returncode == 1, result.output
    assert NOT_SUPPORTED.format(type="NoSuchType", side="remote") in result.output
    assert "entry point" not in result.output


FAKE_ENTRY_POINTS = """\
[offlineimap.repository]
BrokenType = phantomfix_patchtest_no_such_module:Nothing
MaildirEverywhere = offlineimap.repository.Maildir:MaildirRepository
GmailEverywhere = offlineimap.repository.Gmail:GmailRepository
"""


@pytest.fixture
def fake_distribution(tmp_path: Path) -> Path:
    """A directory holding one installed distribution that registers three test repository types."""
    root = tmp_path / "fake-dist"
    info = root / "phantomfix_patchtest-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: phantomfix-patchtest\nVersion: 0\n")
    (info / "entry_points.txt").write_text(FAKE_ENTRY_POINTS)
    return root


@pytest.mark.parametrize(
    ("remote_type", "local_type", "expected"),
    [
        (
            "BrokenType",
            "Maildir",
            [NOT_SUPPORTED.format(type="BrokenType", side="remote"), "failed to load: ModuleNotFoundError"],
        ),
        (
            "MaildirEverywhere",
            "Maildir",
            [NOT_SUPPORTED.format(type="MaildirEverywhere", side="remote"), "is not usable for 'remote' repositories"],
        ),
        (
            "IMAP",
            "GmailEverywhere",
            [NOT_SUPPORTED.format(type="GmailEverywhere", side="local"), "is not usable for 'local' repositories"],
        ),
    ],
    ids=["fails-to-load", "local-class-as-remote", "remote-only-class-as-local"],
)
def test_0001_refused_entry_points_end_in_upstreams_error_with_the_reason(
    sites: dict[str, Path],
    emulator: EmulatorServer,
    tmp_path: Path,
    fake_distribution: Path,
    remote_type: str,
    local_type: str,
    expected: list[str],
) -> None:
    healthy_mailbox(emulator, {"INBOX": 2})
    setup = config(emulator, tmp_path / "run", remote_type, local_options={"type": local_type})
    result = sync(sites["0001"], setup, extra_paths=(fake_distribution,))
    assert result.returncode == 1, result.output
    for text in expected:
        assert text in result.output
    assert not read_maildir(setup.maildir).get("INBOX")


def test_0001_local_side_accepts_a_fitting_entry_point(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path, fake_distribution: Path
) -> None:
    uids = healthy_mailbox(emulator, {"INBOX": 4})
    setup = config(emulator, tmp_path / "run", "IMAP", local_options={"type": "MaildirEverywhere"})
    result = sync(sites["0001"], setup, extra_paths=(fake_distribution,))
    assert result.returncode == 0, result.output
    assert_synced(emulator, setup, "INBOX", uids["INBOX"])


OLD_API_PROBE = """
import importlib.metadata as metadata, json, sys
sys.path.insert(0, {site!r})
import offlineimap.repository as repository

group = repository.ENTRY_POINT_GROUP
point = metadata.EntryPoint("Maildir2", "offlineimap.repository.Maildir:MaildirRepository", group)
other = metadata.EntryPoint("Other", "x:y", group)

def entry_points():  # the Python 3.8/3.9 signature and result: no arguments, a dict of groups
    return {{group: [point, other, point], "console_scripts": [point]}}

metadata.entry_points = entry_points
found = repository._entry_points_named("Maildir2")
cls, refused = repository._repository_from_entry_points("Maildir2", "local")
print(json.dumps([[p.value for p in found], cls.__name__, refused]))
"""


def test_0001_reads_the_dict_of_groups_of_python_before_3_10(sites: dict[str, Path], tmp_path: Path) -> None:
    command = [sys.executable, "-c", OLD_API_PROBE.format(site=str(sites["0001"].resolve()))]
    result = run_offlineimap(write_offlineimaprc(tmp_path, port=1), command=command, timeout=60)
    assert result.returncode == 0, result.output
    found, class_name, refused = json.loads(result.output.strip().splitlines()[-1])
    assert found == ["offlineimap.repository.Maildir:MaildirRepository"]
    assert class_name == "MaildirRepository"
    assert refused == []


# --- 0002: retry after a dropped connection -----------------------------------------------------------------


def test_stock_dropped_connection_kills_the_copy_thread(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path
) -> None:
    """The bug 0002 fixes, on the unpatched copy: TypeError in the retry path, exit status 100."""
    scenario = build_fault_scenario(emulator, Fault.DROPPED, healthy=12)
    setup = config(emulator, tmp_path, "IMAP")
    result = sync(sites["stock"], setup)
    assert result.returncode == 100, result.output
    assert "TypeError" in result.output
    local = {m.uid for m in read_maildir(setup.maildir).get(scenario.folder, [])}
    assert local != set(scenario.healthy_uids), "the unpatched copy was expected to lose messages"


def test_0002_dropped_connection_is_reported_and_the_folder_completes(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path
) -> None:
    scenario = build_fault_scenario(emulator, Fault.DROPPED, healthy=12)
    assert scenario.phantom_uid is not None
    assert any(u > scenario.phantom_uid for u in scenario.healthy_uids)
    setup = config(emulator, tmp_path, "IMAP")
    result = sync(sites["0002"], setup)
    assert "TypeError" not in result.output
    assert result.returncode == 1, result.output
    uid = scenario.phantom_uid
    assert result.lines(f"ERROR: While fetching msg '{uid}' in folder '{scenario.folder}'."), result.output
    assert result.lines(f"while fetching msg '{uid}' in folder '{scenario.folder}'. Max retry reached (2)")
    assert "ERROR: Exceptions occurred during the run!" in result.output
    assert_scenario_synced(emulator, setup, scenario)


# --- both: PhantomSafeIMAP without pythonfile against a dropping server ------------------------------------


def test_both_phantomsafe_survives_a_dropped_connection_and_skips_it_next_time(
    sites: dict[str, Path], emulator: EmulatorServer, tmp_path: Path
) -> None:
    scenario = build_fault_scenario(emulator, Fault.DROPPED, healthy=12)
    assert scenario.phantom_uid is not None
    setup = config(emulator, tmp_path, "PhantomSafeIMAP")
    first = sync(sites["both"], setup)
    assert first.returncode == 0, first.output
    assert_scenario_synced(emulator, setup, scenario)
    confirm = sync(sites["both"], setup)  # a first drop may be passing: tried once more, then skipped
    assert confirm.returncode == 0, confirm.output

    before = emulator.content_fetches(scenario.folder, scenario.phantom_uid)
    second = sync(sites["both"], setup)
    assert second.returncode == 0, second.output
    assert emulator.content_fetches(scenario.folder, scenario.phantom_uid) == before
    assert_scenario_synced(emulator, setup, scenario)
