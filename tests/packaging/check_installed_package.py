"""The checks against an installed Debian package, for debian/tests (autopkgtest).

Not named test_*: the ordinary test run builds and installs the package itself (test_debian_package.py) and
calls the same checks; autopkgtest names this file explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from installed_checks import ACTIVATE_FILE, SYSTEM_PATH, check_sync_and_commands

import offlineimap_phantomfix


def test_installed_package(emulator: Any, tmp_path: Path) -> None:
    assert offlineimap_phantomfix.__file__.startswith("/usr/lib/python3/dist-packages/"), offlineimap_phantomfix
    check_sync_and_commands(emulator, tmp_path, offlineimap=["/usr/bin/offlineimap"],
                            phantomfix_command="/usr/bin/offlineimap-phantomfix", pythonfile=ACTIVATE_FILE,
                            env={"PATH": SYSTEM_PATH})
