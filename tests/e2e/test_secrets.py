"""No secret in any output or file: every command, on success and on failure, with passwords that carry '%',
quotes, spaces and non-ASCII characters, and with XOAUTH2 tokens. report, doctor and clear do not even read the
password options."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.testing import (
    ACTIVATION_LINES,
    EmulatorServer,
    Fault,
    make_message,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.harness import OfflineimapSetup

pytestmark = pytest.mark.e2e

PASSWORDS = {
    "percent": "50%off% sale",
    "quotes": "it's \"quoted\" \\ back",
    "spaces": "pass with  inner   spaces",
    "non-ascii": "mötörhead-密码-пароль",
}
TOKEN = "ya29.A0ARrdaM-SeCrEtToKeN_0123456789"
REFRESH = "1//0refresh-SECRET-token"
CLIENT_SECRET = "GOCSPX-client-SECRET"


def _forms(secret: str, user: str) -> list[str]:
    """The secret as it may be written anywhere: raw, %-escaped, quoted, and inside SASL PLAIN."""
    forms = {secret.strip() or secret, secret.replace("%", "%%"), secret.replace("\\", "\\\\").replace('"', '\\"'),
             repr(secret)[1:-1]}
    for authz in ("", user):
        forms.add(base64.b64encode(f"{authz}\0{user}\0{secret}".encode()).decode())
    return [form for form in forms if len(form) >= 4]


def _files_text(root: Path) -> str:
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in root.rglob("*") if path.is_file()
                     and path.name not in ("offlineimaprc", "phantomfix_hook.py"))


def _setup(tmp_path: Path, name: str, port: int, password: str, **remote: str) -> OfflineimapSetup:
    options = {"remotepass": password.replace("%", "%%")}  # as offlineimap's configuration wants it
    options.update(remote)
    return write_offlineimaprc(tmp_path / name, port=port, repo_type="PhantomSafeIMAP", user="user",
                               password="unused", pythonfile_lines=list(ACTIVATION_LINES), remote_options=options)


def _everything(setup: OfflineimapSetup, capsys: pytest.CaptureFixture[str], uid: int) -> str:
    """Run every command once; return all they printed (the transcript file is in the work directory)."""
    target = ["--account", "Test", "--folder", "INBOX", "--uid", str(uid)]
    runs = [["report"], ["report", "--json"], ["report", "--new"], ["doctor"], ["clear", "--all", "--dry-run"],
            ["probe", *target, "--output", str(setup.workdir / "transcript.txt")], ["purge", *target],
            ["purge", *target, "--yes"], ["clear", "--all"], ["report"]]
    printed = []
    for argv in runs:
        code = cli.main(["-c", str(setup.config), *argv])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        printed.append(f"{argv} -> {code}\n{out}{err}")
    return "\n".join(printed)


@pytest.mark.parametrize("kind", list(PASSWORDS))
def test_every_command_with_an_awkward_password(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                 ) -> None:
    password = PASSWORDS[kind]
    with EmulatorServer(password=password) as server:
        server.append("INBOX", make_message(1))
        uid = server.append("INBOX", make_message(2), fault=Fault.EMPTY)
        good = _setup(tmp_path, "good", server.port, password)
        synced = run_offlineimap(good)  # the sync records the phantom the commands then work on
        assert "Traceback" not in synced.output
        printed = _everything(good, capsys, uid)
        assert "purge" in printed and "expunged UID 2" in printed, printed
        wrong = _setup(tmp_path, "wrong", server.port, password + "x")  # login fails, server echoes nothing
        failed = _everything(wrong, capsys, uid)
        assert "login to 127.0.0.1" in failed
    closed = _setup(tmp_path, "closed", server.port, password)  # the server is gone: connection refused
    refused = _everything(closed, capsys, uid)
    assert "connection refused" in refused, refused
    text = "\n".join([printed, failed, refused, synced.output, _files_text(tmp_path)])
    for form in _forms(password, "user"):
        assert form not in text, f"{form!r} leaked"


def test_xoauth2_tokens_never_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatorServer() as server:
        server.append("INBOX", make_message(1))
        with_token = _setup(tmp_path, "token", server.port, "unused", auth_mechanisms="XOAUTH2",
                            oauth2_access_token=TOKEN)
        printed = _everything(with_token, capsys, 1)
        refreshing = _setup(tmp_path, "refresh", server.port, "unused", auth_mechanisms="XOAUTH2",
                            oauth2_refresh_token=REFRESH, oauth2_client_id="client-id",
                            oauth2_client_secret=CLIENT_SECRET, oauth2_request_url="http://127.0.0.1:9/token")
        printed += _everything(refreshing, capsys, 1)
    assert "probe" in printed
    text = printed + _files_text(tmp_path)
    for secret in (TOKEN, REFRESH, CLIENT_SECRET):
        assert secret not in text


def test_report_doctor_and_clear_do_not_read_passwords(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "password-was-read"
    hook = [*ACTIVATION_LINES, "def secret():", f"    open({str(marker)!r}, 'w').close()", "    return 'x'"]
    setup = write_offlineimaprc(tmp_path / "rc", port=1, repo_type="IMAP", pythonfile_lines=hook,
                                remote_options={"remotepasseval": "secret()", "remotepass": "lone%rest-of-pw"})
    for argv in (["report"], ["report", "--json"], ["doctor"], ["clear", "--all", "--dry-run"], ["clear", "--all"]):
        code = cli.main(["-c", str(setup.config), *argv])
        out, err = capsys.readouterr()
        assert "%rest-of-pw" not in out + err and "rest-of-pw" not in out + err, argv
        assert code == 0, (argv, out, err)
    assert not marker.exists()
