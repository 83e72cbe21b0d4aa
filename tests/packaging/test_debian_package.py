"""The Debian package: built from a copy of the tree with dpkg-buildpackage, checked by lintian, installed
with apt-get next to Debian's offlineimap3, used as a Debian user would, removed, machine as before."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SOURCE_ROOT, outside_env, run, skip_or_fail
from installed_checks import ACTIVATE_FILE, INSTALLED_ENV, SYSTEM_PATH, check_sync_and_commands

from offlineimap_phantomfix.testing.harness import run_offlineimap, write_offlineimaprc

pytestmark = [pytest.mark.packaging, pytest.mark.e2e]

PACKAGE = "offlineimap-phantomfix"
DEB = f"{PACKAGE}_0.1.0_all.deb"
# Kept lintian warnings, each with its reason (README, "Debian/Ubuntu package").
KEPT_WARNINGS: dict[str, str] = {}
# The generated manual page and the completions, in Debian's places, from the files of the source tree.
DEBIAN_DATA_FILES = {
    "/usr/share/man/man1/offlineimap-phantomfix.1.gz": "man/offlineimap-phantomfix.1",
    "/usr/share/bash-completion/completions/offlineimap-phantomfix": "completions/bash/offlineimap-phantomfix",
    "/usr/share/zsh/vendor-completions/_offlineimap-phantomfix": "completions/zsh/_offlineimap-phantomfix"}
BUILD_TOOLS = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper", "lintian": "lintian",
               "/usr/bin/offlineimap": "offlineimap3", "apt-get": "apt"}


def _installed_packages() -> set[str]:
    result = run(["dpkg-query", "-W", "-f", "${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\n"])
    assert result.returncode == 0, result.stdout
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def _is_installed(package: str) -> bool:
    return any(line.startswith(f"{package}:") and line.endswith("ii") for line in _installed_packages())


def _why_not_here() -> str | None:
    if not Path("/etc/debian_version").exists():
        return "the Debian package tier runs only on Debian or Ubuntu"
    if os.geteuid() != 0:
        return "the Debian package tier needs root (apt-get install and remove)"
    for tool, package in BUILD_TOOLS.items():
        if shutil.which(tool, path=SYSTEM_PATH) is None:
            return f"{tool} is missing (Debian package {package}; make test installs it)"
    if _is_installed(PACKAGE):
        return f"{PACKAGE} is already installed here; this test would replace and then remove it"
    return None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the .deb, .changes and the lintian output, built from a copy of the tree."""
    reason = _why_not_here()
    if reason is not None:
        skip_or_fail(reason)
    work = tmp_path_factory.mktemp("deb")
    shutil.copytree(SOURCE_ROOT, work / "src", ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".pybuild", "results"))
    env = outside_env(PATH=SYSTEM_PATH, **INSTALLED_ENV)
    build = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=str(work / "src"), env=env)
    assert build.returncode == 0, build.stdout[-5000:]
    (changes,) = work.glob("*.changes")
    lintian = run(["lintian", "--fail-on", "error", "--pedantic", str(changes)], env=env)
    (work / "lintian.txt").write_text(f"exit {lintian.returncode}\n{lintian.stdout}", encoding="utf-8")
    return work


def test_package_holds_both_commands_the_module_and_the_activation_file(built: Path, tmp_path: Path) -> None:
    listing = run(["dpkg-deb", "-c", str(built / DEB)]).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines() if line.strip()}
    for needed in ("/usr/bin/offlineimap-phantomfix", "/usr/bin/offlineimap-phantomsafe", ACTIVATE_FILE,
                   "/usr/lib/python3/dist-packages/offlineimap_phantomfix/py.typed",
                   "/usr/lib/python3/dist-packages/offlineimap_phantomfix/offlineimap_home.py",
                   "/usr/share/doc/offlineimap-phantomfix/copyright", *DEBIAN_DATA_FILES):
        assert needed in paths, needed
    # The wheel's own copies of the data files (share/man, share/zsh/site-functions) are not installed too.
    assert {path for path in paths if path.startswith(("/usr/share/man/", "/usr/share/bash-completion/",
                                                       "/usr/share/zsh/")) and not path.endswith("/")} \
        == set(DEBIAN_DATA_FILES) | {"/usr/share/man/man1/offlineimap-phantomsafe.1.gz"}, sorted(paths)
    unpacked = run(["dpkg-deb", "-x", str(built / DEB), str(tmp_path)])
    assert unpacked.returncode == 0, unpacked.stdout
    for installed, source in DEBIAN_DATA_FILES.items():
        content = (tmp_path / installed.lstrip("/")).read_bytes()
        assert (gzip.decompress(content) if installed.endswith(".gz") else content) \
            == (SOURCE_ROOT / source).read_bytes(), installed
    assert not any("/tests/" in path or path.startswith("/usr/lib/python3/dist-packages/tests") for path in paths)
    fields = run(["dpkg-deb", "-f", str(built / DEB), "Depends", "Architecture"]).stdout
    assert "Architecture: all" in fields
    depends = {item.strip().split()[0] for item in fields.split("Depends:", 1)[1].splitlines()[0].split(",")}
    assert {"offlineimap3", "python3-imaplib2"} <= depends, fields
    assert not any("offlineimap" in name and name != "offlineimap3" for name in depends), fields


def test_lintian_reports_no_errors(built: Path) -> None:
    status, _, output = (built / "lintian.txt").read_text(encoding="utf-8").partition("\n")
    tags = [line for line in output.splitlines() if line[:2] in ("E:", "W:", "I:", "P:")]
    assert status == "exit 0" and not any(tag.startswith("E:") for tag in tags), output
    warnings = {tag.split(": ")[2].split()[0] for tag in tags if tag.startswith("W:")}
    assert warnings <= set(KEPT_WARNINGS), f"new lintian warnings: {sorted(warnings - set(KEPT_WARNINGS))}"


def _snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    return {str(path.relative_to(directory)): (path.stat().st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
            for path in sorted(directory.rglob("*")) if path.is_file()}


def test_apt_install_then_debian_offlineimap_syncs_then_remove_leaves_state(built: Path, emulator: Any,
                                                                            tmp_path: Path) -> None:
    apt_env = outside_env(PATH=SYSTEM_PATH, DEBIAN_FRONTEND="noninteractive", **INSTALLED_ENV)
    before = _installed_packages()
    try:
        install = run(["apt-get", "install", "-y", "-q", "--no-install-recommends", f"./{DEB}"], cwd=str(built),
                      env=apt_env)
        assert install.returncode == 0, install.stdout
        outcome = check_sync_and_commands(emulator, tmp_path / "user", offlineimap=["/usr/bin/offlineimap"],
                                          phantomfix_command="/usr/bin/offlineimap-phantomfix",
                                          pythonfile=ACTIVATE_FILE, env={"PATH": SYSTEM_PATH})

        # The wrapper needs no pythonfile: a second user syncs the same server with it.
        wrapper = write_offlineimaprc(tmp_path / "wrapper", port=emulator.port, user=emulator.user,
                                      password=emulator.password, repo_type="PhantomSafeIMAP")
        result = run_offlineimap(wrapper, command=["/usr/bin/offlineimap-phantomsafe"],
                                 env={**INSTALLED_ENV, "PATH": SYSTEM_PATH})
        assert result.returncode == 0, result.output
        assert len(result.lines("offlineimap-phantomfix report'")) == len(outcome.phantoms), result.output

        state = outcome.setup.metadata / "phantomfix"
        kept = _snapshot(state)
        assert "phantoms.sqlite3" in kept
    finally:
        removal = run(["apt-get", "remove", "-y", "-q", PACKAGE], env=apt_env)
        added = {line.split(":")[0] for line in _installed_packages() - before}
        if added:  # anything apt pulled in for the package goes too: the machine is left as it was
            run(["apt-get", "remove", "-y", "-q", *sorted(added)], env=apt_env)
    assert removal.returncode == 0, removal.stdout
    assert _installed_packages() == before, "apt-get remove did not leave the installed packages as before"
    for gone in ("/usr/bin/offlineimap-phantomfix", "/usr/bin/offlineimap-phantomsafe", ACTIVATE_FILE,
                 "/usr/lib/python3/dist-packages/offlineimap_phantomfix", *DEBIAN_DATA_FILES):
        assert not Path(gone).exists(), gone
    assert _snapshot(state) == kept, "removing the package changed the user's state directory"
