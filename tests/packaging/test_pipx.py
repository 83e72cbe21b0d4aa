"""pipx (Debian's package): ``pipx install <wheel>`` puts both commands on PATH, and they work."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import Dists, outside_env, run, skip_or_fail
from installed_checks import check_sync_and_commands

pytestmark = [pytest.mark.packaging, pytest.mark.e2e]


def test_pipx_install_gives_working_commands(dists: Dists, emulator: Any, tmp_path: Path) -> None:
    pipx = shutil.which("pipx", path="/usr/bin:/bin")
    if pipx is None:
        skip_or_fail("pipx is not installed (Debian package pipx)")
    bin_dir = tmp_path / "bin"
    path = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"
    env = outside_env(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(bin_dir), PATH=path)
    installed = run([pipx, "install", str(dists.wheel)], env=env)
    assert installed.returncode == 0, installed.stdout
    for command in ("offlineimap-phantomsafe", "offlineimap-phantomfix"):
        assert shutil.which(command, path=path) == str(bin_dir / command), installed.stdout

    check_sync_and_commands(emulator, tmp_path / "user", offlineimap=[str(bin_dir / "offlineimap-phantomsafe")],
                            phantomfix_command=str(bin_dir / "offlineimap-phantomfix"), env={"PATH": path})
