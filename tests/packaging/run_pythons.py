"""``make test-pythons``: the unit tier and the PhantomSafeIMAP end-to-end suite on every CPython 3.9 or newer
found on this machine (pyenv's versions, /usr/bin/python3.N, /usr/local/bin/python3.N), one line per version.

Each interpreter gets its own venv under ``.venv-pythons/`` with this tree installed in editable mode and
pytest; the venvs are made one after the other (they share the tree's egg-info) and kept between runs, then
``--jobs`` versions are tested at a time (the end-to-end suite mostly waits on offlineimap's start-up).
``--skip PYTHON`` leaves out the interpreter PYTHON runs on (the main test run already covers it). Exit
status 1 when any version fails.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]
MINIMUM = (3, 9)
PATTERNS = ("{pyenv}/versions/*/bin/python3", "/usr/bin/python3.[0-9]*", "/usr/local/bin/python3.[0-9]*")
UNIT = ["-m", "not e2e and not dovecot and not packaging", "tests", "--ignore=tests/packaging"]
E2E = ["tests/e2e/test_phantomsafe.py"]
_IDENTIFY = "import platform, sys; print(platform.python_implementation(), '%d.%d.%d' % sys.version_info[:3], " \
            "sys.base_prefix)"


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str
    base_prefix: str

    @property
    def key(self) -> tuple[str, str]:
        return self.version, self.base_prefix


def identify(python: str) -> Interpreter | None:
    """The interpreter behind ``python`` when it is CPython >= 3.9, else None."""
    try:
        result = subprocess.run([python, "-c", _IDENTIFY], capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return None
    parts = result.stdout.split(maxsplit=2)
    if result.returncode != 0 or len(parts) != 3 or parts[0] != "CPython":
        return None
    if tuple(int(n) for n in parts[1].split(".")[:2]) < MINIMUM:
        return None
    return Interpreter(path=python, version=parts[1], base_prefix=parts[2].strip())


def find_interpreters() -> list[Interpreter]:
    """Every distinct CPython >= 3.9 here, oldest first (one per installation)."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found: dict[tuple[str, str], Interpreter] = {}
    for pattern in PATTERNS:
        for path in sorted(glob.glob(pattern.format(pyenv=pyenv))):
            if not re.search(r"python3(\.\d+)?$", path) or not os.access(path, os.X_OK):
                continue
            interpreter = identify(path)
            if interpreter is not None:
                found.setdefault(interpreter.key, interpreter)
    return sorted(found.values(), key=lambda i: (tuple(int(n) for n in i.version.split(".")), i.base_prefix))


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=str(SOURCE_ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=1800, check=False)


def _venv(interpreter: Interpreter, env: dict[str, str]) -> tuple[Path | None, str]:
    """The interpreter's venv with this tree, pytest and hypothesis installed (created once), or None and why not."""
    name = f"{interpreter.version}-{re.sub(r'[^A-Za-z0-9]+', '_', interpreter.base_prefix).strip('_')}"
    venv = SOURCE_ROOT / ".venv-pythons" / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.stat().st_mtime >= (SOURCE_ROOT / "setup.cfg").stat().st_mtime:
        return python, ""
    created = _run([interpreter.path, "-m", "venv", "--clear", str(venv)], env)
    if created.returncode != 0:
        return None, f"cannot create a venv: {created.stdout.strip().splitlines()[-1:]}"
    installed = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", ".",
                      "pytest", "hypothesis>=6"], env)
    if installed.returncode != 0:
        return None, f"cannot install: {installed.stdout.strip().splitlines()[-1:]}"
    stamp.touch()
    return python, ""


def _summary(output: str) -> str:
    lines = [line.strip("= ") for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def check_interpreter(interpreter: Interpreter, python: Path, log_dir: Path) -> bool:
    """Run both tiers on one interpreter's venv; print one line; keep the full output in ``log_dir``."""
    started = time.monotonic()
    env = _clean_env()
    label = f"python {interpreter.version} ({interpreter.base_prefix})"
    outcomes = []
    ok = True
    for tier, args in (("unit", UNIT), ("e2e", E2E)):
        result = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], env)
        (log_dir / f"{interpreter.version}-{tier}.log").write_text(result.stdout, encoding="utf-8")
        ok = ok and result.returncode == 0
        outcomes.append(f"{tier}: {_summary(result.stdout)}")
    verdict = "ok" if ok else "FAILED"
    print(f"{label}: {verdict}: {'; '.join(outcomes)} ({time.monotonic() - started:.0f} s)", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", metavar="PYTHON", help="leave out the interpreter that PYTHON runs on")
    parser.add_argument("--jobs", type=int, default=2, help="versions tested at a time (default 2)")
    parser.add_argument("--logs", metavar="DIR", default=str(SOURCE_ROOT / ".venv-pythons" / "logs"))
    args = parser.parse_args(argv)
    interpreters = find_interpreters()
    skipped = identify(args.skip) if args.skip else None
    if skipped is not None:
        print(f"python {skipped.version} ({skipped.base_prefix}): covered by the main test run")
        interpreters = [i for i in interpreters if i.key != skipped.key]
    log_dir = Path(args.logs)
    log_dir.mkdir(parents=True, exist_ok=True)
    ready: list[tuple[Interpreter, Path]] = []
    results: list[bool] = []
    for interpreter in interpreters:
        python, why = _venv(interpreter, _clean_env())
        if python is None:
            print(f"python {interpreter.version} ({interpreter.base_prefix}): FAILED: {why}", flush=True)
            results.append(False)
        else:
            ready.append((interpreter, python))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results += pool.map(lambda pair: check_interpreter(pair[0], pair[1], log_dir), ready)
    if not results:
        print("no other CPython 3.9 or newer found")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
