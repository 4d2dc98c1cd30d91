"""Delivery by e-mail, against a real SMTP server on loopback (aiosmtpd) that the tests
start: the message carries the headline figures, the pages and the workbook, and no secret;
a failed page sends nothing but a failure notice and exits non-zero."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from salesnb import config
from salesnb.cli import main
from tests.sites import demo_params, publish_site

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd is a dev dependency (pip install -e .[dev])")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

PASSWORD = "s3cr3t-Smtp-Pa55"
USER = "reports@example.com"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        self.raw.append(envelope.original_content)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login.decode(), data.password.decode()))
            return AuthResult(success=(data.login.decode(), data.password.decode()) == (USER, PASSWORD))
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox, auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def site(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("mail")
    publish_site(tmp, demo_params(demo_dir, report={"notebooks": ["kpi_overview", "funnel"], "out": str(tmp / "out")}))
    return tmp / "params" / "base.yaml"


def _env(monkeypatch: pytest.MonkeyPatch, port: int, **extra: str) -> None:
    for name, value in {"SALESNB_SMTP_HOST": "127.0.0.1", "SALESNB_SMTP_PORT": str(port),
                        "SALESNB_SMTP_USER": USER, "SALESNB_SMTP_PASSWORD": PASSWORD,
                        "SALESNB_SMTP_FROM": "salesnb <reports@example.com>", "SALESNB_SMTP_STARTTLS": "",
                        **extra}.items():
        monkeypatch.setenv(name, value)


def test_the_report_arrives_with_pages_workbook_and_no_secret(site: Path, smtp: tuple[Inbox, int],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture) -> None:
    inbox, port = smtp
    _env(monkeypatch, port)
    assert main(["deliver", "--period", "2026-10", "--to", "ann@example.com,boris@example.ru",
                 "--base", str(site)]) == 0
    assert inbox.logins == [(USER, PASSWORD)]  # it logged in with the settings from the environment
    [msg] = inbox.messages
    assert msg["Subject"] == "Sales report 2026-10" and msg["To"] == "ann@example.com, boris@example.ru"
    out = site.parent.parent / "out"
    names = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert sorted(names) == ["2026-10-funnel.html", "2026-10-kpi_overview.html", "2026-10-kpis.xlsx"]
    assert names["2026-10-kpis.xlsx"] == (out / "2026-10" / "kpis.xlsx").read_bytes()
    # the page as published (SMTP carries lines as CRLF)
    assert names["2026-10-funnel.html"].replace("\r\n", "\n") == (out / "2026-10" / "funnel.html").read_text(
        encoding="utf-8")
    body = msg.get_body(("plain",)).get_content()
    headline = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["2026-10"]["_period"]["headline"]
    for label, value in headline.items():
        assert f"{label}: {value}" in body
    # the findings, as the index lists them (the overview was published: it leaves them)
    found = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["2026-10"]["_period"]["findings"]
    assert found and "What stands out:" in body
    assert all(f"{i}. {f['text']}" in body for i, f in enumerate(found, 1))
    printed = capsys.readouterr()
    for text in (inbox.raw[0].decode("utf-8", "replace"), printed.out, printed.err):
        assert PASSWORD not in text


def test_a_failed_page_sends_only_a_failure_notice(site: Path, smtp: tuple[Inbox, int],
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    inbox, port = smtp
    _env(monkeypatch, port)
    out = site.parent.parent / "out"
    manifest = out / "manifest.json"
    saved = manifest.read_text(encoding="utf-8")
    broken = json.loads(saved)
    broken["2026-10"]["funnel"].update(status="failed", error="cell 4: KeyError: 'stage'")
    manifest.write_text(json.dumps(broken), encoding="utf-8")
    try:
        assert main(["deliver", "--period", "2026-10", "--to", "ann@example.com", "--base", str(site)]) == 1
    finally:
        manifest.write_text(saved, encoding="utf-8")
    [msg] = inbox.messages
    assert "NOT delivered" in msg["Subject"] and not list(msg.iter_attachments())
    assert "funnel: cell 4: KeyError: 'stage'" in msg.get_content()


def test_dry_run_writes_the_message_and_sends_nothing(site: Path, smtp: tuple[Inbox, int],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port = smtp
    _env(monkeypatch, port)
    assert main(["deliver", "--period", "2026-10", "--to", "ann@example.com", "--base", str(site), "--dry-run"]) == 0
    assert inbox.messages == []
    written = site.parent.parent / "out" / "mail" / "2026-10.eml"
    msg = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert len(list(msg.iter_attachments())) == 3 and PASSWORD.encode() not in written.read_bytes()


def test_settings_and_recipients_are_clear_errors(site: Path, smtp: tuple[Inbox, int],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    inbox, port = smtp
    # aiosmtpd answers a failed login by going quiet: the timeout ends the wait
    _env(monkeypatch, port, SALESNB_SMTP_PASSWORD="wrong-" + PASSWORD, SALESNB_SMTP_TIMEOUT="3")
    assert main(["deliver", "--period", "2026-10", "--to", "ann@example.com", "--base", str(site)]) == 2
    err = capsys.readouterr().err
    assert "could not send through 127.0.0.1" in err and "wrong-" not in err and PASSWORD not in err
    monkeypatch.delenv("SALESNB_SMTP_HOST")
    assert main(["deliver", "--period", "2026-10", "--to", "ann@example.com", "--base", str(site)]) == 2
    assert "set SALESNB_SMTP_HOST in the environment or in .env" in capsys.readouterr().err
    assert main(["deliver", "--period", "2026-10", "--to", "not-an-address", "--base", str(site)]) == 2
    assert "--to: 'not-an-address' is not an e-mail address" in capsys.readouterr().err
    assert main(["deliver", "--period", "2031-01", "--to", "a@b.c", "--base", str(site), "--dry-run"]) == 2
    assert "period 2031-01 is not published" in capsys.readouterr().err
    assert inbox.messages == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test's certificate")
def test_starttls_with_the_servers_certificate(site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox, tls_context=context,
                            require_starttls=True)
    controller.start()
    try:
        _env(monkeypatch, port, SALESNB_SMTP_STARTTLS="true", SALESNB_SMTP_CAFILE=str(cert))
        assert main(["deliver", "--period", "2026-10", "--to", "ann@example.com", "--base", str(site)]) == 0
    finally:
        controller.stop()
    assert inbox.logins == [(USER, PASSWORD)] and len(inbox.messages) == 1


@pytest.mark.skipif(shutil.which("make") is None or not (config.ROOT / ".venv" / "bin" / "salesnb").exists(),
                    reason="make deliver runs the project's .venv")
def test_make_deliver_is_the_command_a_schedule_runs(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the README's cron line and systemd unit run: make deliver with PERIOD and TO."""
    written = site.parent.parent / "out" / "mail" / "2026-10.eml"
    written.unlink(missing_ok=True)
    command = ["make", "-s", "deliver", "PERIOD=2026-10", "TO=ann@example.com", "DRY_RUN=1", f"BASE={site}"]
    done = subprocess.run(command, cwd=config.ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    msg = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "ann@example.com" and len(list(msg.iter_attachments())) == 3
