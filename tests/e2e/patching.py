"""Apply ``patches/`` to a private copy of the installed offlineimap and run the program from that copy.

The copy lives in ``<site>/offlineimap`` (``<site>`` stands for a site-packages directory); patches are applied
there with the system ``patch -p1``, exactly as patches/README.md tells users to do it in their own
site-packages. The program is started with ``<site>`` first on ``sys.path``, and the start-up code refuses to
run (exit status 97) when ``offlineimap`` would be imported from anywhere else.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from offlineimap_phantomfix.testing.harness import OfflineimapSetup, run_offlineimap

PATCH_DIR = Path(__file__).resolve().parents[2] / "patches"
WRONG_COPY_EXIT = 97


def patch_file(number: str) -> Path:
    """The one patch file whose name starts with ``number`` ("0001", "0002")."""
    found = sorted(PATCH_DIR.glob(f"{number}-*.patch"))
    assert len(found) == 1, f"expected one {number}-*.patch in {PATCH_DIR}, found {found}"
    return found[0]


def installed_offlineimap() -> Path:
    """The ``offlineimap`` package directory of the installed program (found without importing it)."""
    spec = importlib.util.find_spec("offlineimap")
    assert spec is not None and spec.origin, "offlineimap is not installed"
    return Path(spec.origin).resolve().parent


def copy_offlineimap(site: Path) -> Path:
    """Copy the installed package to ``site/offlineimap`` (no byte-code); returns ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copytree(installed_offlineimap(), site / "offlineimap", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def run_patch(site: Path, patch: Path, *, reverse: bool = False) -> str:
    """``patch -p1 [-R]`` in ``site``; fails the test on any failure or fuzz. Returns patch's output."""
    program = shutil.which("patch")
    assert program, "the 'patch' program is required (apt-get install patch)"
    args = [program, "-p1", "--batch", "--no-backup-if-mismatch", "-i", str(patch)]
    if reverse:
        args.insert(2, "-R")
    proc = subprocess.run(args, cwd=site, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} failed in {site}:\n{output}"
    assert "fuzz" not in output, f"{patch.name} applied only with fuzz:\n{output}"
    leftovers = [p for p in site.rglob("*") if p.suffix in (".orig", ".rej")]
    assert not leftovers, f"patch left {leftovers}"
    return output


def patched_copy(site: Path, patches: Iterable[str]) -> Path:
    """A fresh copy of the installed offlineimap in ``site`` with the patches applied in order."""
    copy_offlineimap(site)
    for number in patches:
        run_patch(site, patch_file(number))
    return site


def offlineimap_from(site: Path, *, extra_paths: Sequence[Path] = ()) -> list[str]:
    """argv (before ``-c``) that runs ``offlineimap.init.main`` from the copy in ``site``.

    ``extra_paths`` go on ``sys.path`` right after ``site`` (e.g. a directory with extra ``*.dist-info``).
    """
    prefix = str(site.resolve()) + os.sep
    code = "\n".join(
        [
            "import sys",
            f"sys.path[0:0] = {[str(site.resolve()), *(str(p) for p in extra_paths)]!r}",
            "import offlineimap",
            f"if not offlineimap.__file__.startswith({prefix!r}):",
            "    sys.stderr.write('offlineimap imported from %s, not the copy\\n' % offlineimap.__file__)",
            f"    sys.exit({WRONG_COPY_EXIT})",
            "from offlineimap.init import main",
            "sys.exit(main())",
        ]
    )
    return [sys.executable, "-c", code]


_PROBE = """
import json, sys
sys.path.insert(0, {site!r})
import offlineimap, offlineimap.folder.IMAP, offlineimap.repository
print(json.dumps({{
    "offlineimap": offlineimap.__file__,
    "repository": offlineimap.repository.__file__,
    "folder_imap": offlineimap.folder.IMAP.__file__,
    "version": offlineimap.__version__,
    "entry_point_group": getattr(offlineimap.repository, "ENTRY_POINT_GROUP", None),
}}))
"""


def probe(site: Path, setup: OfflineimapSetup) -> dict[str, str | None]:
    """Import offlineimap the way :func:`offlineimap_from` does, in the harness's environment, and report
    where its modules came from."""
    command = [sys.executable, "-c", _PROBE.format(site=str(site.resolve()))]
    result = run_offlineimap(setup, command=command, timeout=60)
    assert result.returncode == 0, result.output
    report: dict[str, str | None] = json.loads(result.output.strip().splitlines()[-1])
    return report


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every file under ``root``, byte-code left out."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
