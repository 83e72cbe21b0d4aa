"""Ctrl-C and SIGTERM end probe and purge promptly with one line, whatever the connection is doing.

The program runs as a subprocess; the signal comes while it waits on a server that accepted and says nothing,
on one that stalls in the middle of a fetch, and during ``purge --yes``. The socket timeout is 60 s, so an
exit within a few seconds is the signal's doing, not a timeout's.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offlineimap_phantomfix.interrupt import GRACE_SECONDS
from offlineimap_phantomfix.testing import ACTIVATION_LINES, EmulatorServer, Fault, make_message, write_offlineimaprc
from offlineimap_phantomfix.testing.harness import offlineimap_env
from offlineimap_phantomfix.testing.stall import SilentServer, StallingProxy

pytestmark = pytest.mark.e2e

SOCKET_TIMEOUT = 60


def _mailbox(server: EmulatorServer, fault: Fault | None = None) -> int:
    server.reset()
    server.append("INBOX", make_message(1))
    uid = server.append("INBOX", make_message(2), fault=fault)
    server.append("INBOX", make_message(3))
    return uid


def _start(tmp_path: Path, port: int, command: list[str]) -> subprocess.Popen[bytes]:
    setup = write_offlineimaprc(tmp_path / "rc", port=port, repo_type="PhantomSafeIMAP",
                                pythonfile_lines=list(ACTIVATION_LINES),
                                general_options={"socktimeout": str(SOCKET_TIMEOUT)})
    args = [sys.executable, "-m", "offlineimap_phantomfix", "-c", str(setup.config), *command]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=offlineimap_env(setup), cwd=str(setup.workdir))


def _interrupt(process: subprocess.Popen[bytes], signum: int) -> tuple[float, str, str]:
    time.sleep(0.3)  # let the client settle into its blocking wait
    assert process.poll() is None, process.communicate()
    started = time.monotonic()
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=SOCKET_TIMEOUT / 2)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"still running long after the signal: {err.decode(errors='replace')}")
    return time.monotonic() - started, out.decode(errors="replace"), err.decode(errors="replace")


def _check(process: subprocess.Popen[bytes], elapsed: float, err: str, signum: int) -> str:
    assert process.returncode == 128 + signum, err
    progress = [line for line in err.splitlines() if ": still waiting for " in line]  # the machine may be slow
    lines = [line for line in err.splitlines() if line not in progress]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert elapsed < GRACE_SECONDS * 8, elapsed  # well under the 60 s socket timeout
    return lines[0]


PROBE = ["probe", "--account", "Test", "--folder", "INBOX", "--uid", "2"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_probe_on_a_silent_server(tmp_path: Path, signum: int) -> None:
    with SilentServer() as silent:
        process = _start(tmp_path, silent.port, PROBE)
        assert silent.accepted.wait(30)
        elapsed, _, err = _interrupt(process, signum)
    line = _check(process, elapsed, err, signum)
    name = "SIGINT" if signum == signal.SIGINT else "SIGTERM"
    assert line == f"offlineimap-phantomfix: interrupted by {'Ctrl-C (SIGINT)' if name == 'SIGINT' else name}; " \
                   "nothing was changed"


def test_probe_stalled_mid_fetch(tmp_path: Path, emulator: EmulatorServer) -> None:
    _mailbox(emulator)
    with StallingProxy(emulator.port, b"(BODY.PEEK[])", reply_bytes=120) as proxy:
        process = _start(tmp_path, proxy.port, PROBE)
        assert proxy.stalled.wait(30)
        elapsed, _, err = _interrupt(process, signal.SIGINT)
    assert _check(process, elapsed, err, signal.SIGINT).endswith("; nothing was changed")


PURGE = ["purge", "--account", "Test", "--folder", "INBOX", "--uid", "2", "--yes"]


PURGE_STOPS = {
    # stalled at: (signal, what the line must say, whether the server holds the \Deleted flag afterwards)
    b"UID STORE": (signal.SIGINT, ["the command flagging UID 2 \\Deleted was sent but not answered",
                                   "not expunged"], False),  # the proxy never passed the command on
    b"UID EXPUNGE": (signal.SIGTERM, ["UID 2 is flagged \\Deleted; the expunge was sent but not answered",
                                      "check it with 'probe'"], True),
}


@pytest.mark.parametrize("trigger", list(PURGE_STOPS), ids=["during-flag", "during-expunge"])
def test_purge_interrupted_says_what_was_done(tmp_path: Path, emulator: EmulatorServer, trigger: bytes) -> None:
    signum, says, flagged = PURGE_STOPS[trigger]
    uid = _mailbox(emulator, Fault.EMPTY)
    with StallingProxy(emulator.port, trigger, forward=False) as proxy:
        process = _start(tmp_path, proxy.port, PURGE)
        assert proxy.stalled.wait(30)
        elapsed, _, err = _interrupt(process, signum)
    line = _check(process, elapsed, err, signum)
    for words in says:
        assert words.replace("UID 2", f"UID {uid}") in line, line
    assert [m.uid for m in emulator.messages("INBOX")] == [1, 2, 3]
    assert ("\\Deleted" in emulator.messages("INBOX")[1].flags) is flagged  # the line tells the server's state


def test_a_stalling_server_shows_progress_and_the_probe_ends(tmp_path: Path, emulator: EmulatorServer) -> None:
    _mailbox(emulator)
    timeout = 5
    with StallingProxy(emulator.port, b"(BODY.PEEK[])", reply_bytes=120) as proxy:
        setup = write_offlineimaprc(tmp_path / "rc", port=proxy.port, repo_type="PhantomSafeIMAP",
                                    pythonfile_lines=list(ACTIVATION_LINES),
                                    general_options={"socktimeout": str(timeout)})
        done = subprocess.run([sys.executable, "-m", "offlineimap_phantomfix", "-c", str(setup.config), *PROBE],
                              capture_output=True, text=True, env=offlineimap_env(setup), timeout=SOCKET_TIMEOUT * 4,
                              check=False)
    assert done.returncode == 0, done.stderr
    waiting = [line for line in done.stderr.splitlines() if line.startswith("offlineimap-phantomfix: probe: still")]
    assert waiting, done.stderr
    assert "still waiting for an answer to a" in waiting[0] and "UID FETCH 2 (BODY.PEEK[])" in waiting[0]
    assert f"gives up after {timeout} s without an answer" in waiting[0]
    assert "# => timed out: no answer within 5 s; the connection is given up" in done.stdout
    assert "verdict: recovered: the plain fetch fails but the sequence-fetch step delivers UID 2" in done.stdout

