"""Deliver a published period by e-mail: headline figures in the body, the pages and
``kpis.xlsx`` attached (``salesnb deliver --period 2026-10 --to a@b.c``).

SMTP settings come only from the environment or the project's git-ignored ``.env``:
``SALESNB_SMTP_HOST``, ``SALESNB_SMTP_PORT`` (default 587 with STARTTLS, else 25),
``SALESNB_SMTP_USER``, ``SALESNB_SMTP_PASSWORD``, ``SALESNB_SMTP_FROM``,
``SALESNB_SMTP_STARTTLS`` (``1``/``true``/``yes``), ``SALESNB_SMTP_CAFILE`` for a
server whose certificate a private authority signed, and ``SALESNB_SMTP_TIMEOUT`` (seconds,
default 60). The password is never printed,
logged or written; an error that contains it is masked.

When a page of the period failed (or was never published) nothing of the report is sent:
the recipients get a short failure notice naming the pages, and the command exits 1, so a
scheduled run never mails half a report as if it were whole.
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import smtplib
import ssl
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.policy import default as _policy
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from salesnb import config
from salesnb.secrets import dotenv, redact_text
from salesnb.texts import t, using

__all__ = ["DeliveryError", "SmtpSettings", "smtp_settings", "Delivery", "prepare", "send", "deliver",
           "latest_closed_period"]

_TRUE = {"1", "true", "yes", "on"}


class DeliveryError(RuntimeError):
    """What the user must fix before a period can be delivered (one line)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str = ""
    password: str = field(default="", repr=False)  # never in a repr, a log or a message
    starttls: bool = False
    cafile: str = ""
    timeout: float = 60.0


def smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The SMTP settings from the environment (over ``.env``); a missing one is named.

    >>> s = smtp_settings({"SALESNB_SMTP_HOST": "mail.example.com", "SALESNB_SMTP_FROM": "r@example.com",
    ...                    "SALESNB_SMTP_PASSWORD": "hunter22", "SALESNB_SMTP_STARTTLS": "yes"})
    >>> s.port, s.starttls, "hunter22" in repr(s)
    (587, True, False)
    """
    env = {**dotenv(), **os.environ} if environ is None else dict(environ)
    missing = [n for n in ("SALESNB_SMTP_HOST", "SALESNB_SMTP_FROM") if not env.get(n, "").strip()]
    if missing:
        raise DeliveryError(f"set {' and '.join(missing)} in the environment or in .env (see README, "
                            "\"Reports by e-mail\")")
    starttls = env.get("SALESNB_SMTP_STARTTLS", "").strip().lower() in _TRUE
    port_text = env.get("SALESNB_SMTP_PORT", "").strip() or ("587" if starttls else "25")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DeliveryError(f"SALESNB_SMTP_PORT: {port_text!r} is not a port number")
    timeout_text = env.get("SALESNB_SMTP_TIMEOUT", "").strip() or "60"
    try:
        timeout = float(timeout_text)
    except ValueError:
        raise DeliveryError(f"SALESNB_SMTP_TIMEOUT: {timeout_text!r} is not a number of seconds") from None
    sender = address(env["SALESNB_SMTP_FROM"].strip(), "SALESNB_SMTP_FROM")
    return SmtpSettings(host=env["SALESNB_SMTP_HOST"].strip(), port=int(port_text), sender=sender,
                        user=env.get("SALESNB_SMTP_USER", "").strip(),
                        password=env.get("SALESNB_SMTP_PASSWORD", ""), starttls=starttls,
                        cafile=env.get("SALESNB_SMTP_CAFILE", "").strip(), timeout=timeout)


@dataclass
class Delivery:
    """What :func:`prepare` found: the message and whether the period is whole."""

    message: EmailMessage
    ok: bool
    problems: list[str]
    attachments: list[Path]


def _base(base: Path | None) -> tuple[dict[str, Any], Path, list[str]]:
    params = config.read_params(base or config.PARAMS_DIR / "base.yaml")
    report = params.get("report") or {}
    out = Path(report.get("out") or config.OUTPUTS_DIR)
    out = out if out.is_absolute() else config.ROOT / out
    return params, out, list(report.get("notebooks") or [])


def _manifest(out: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((out / "manifest.json").read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"no published reports in {out} (run make report first): {exc}") from None


def latest_closed_period(out: Path, *, today: date | None = None, fiscal_year_start: int = 1) -> str:
    """The newest published period that had ended before ``today``: what a schedule delivers."""
    from salesnb.periods import parse_period

    today = today or date.today()
    closed = []
    for name in _manifest(out):
        try:
            p = parse_period(name, fiscal_year_start=fiscal_year_start)
        except ValueError:
            continue
        if p.end < today:
            closed.append((p.end, p.start, name))
    if not closed:
        raise DeliveryError(f"no published period in {out} has ended yet")
    return max(closed)[2]


def _validate_recipients(to: Sequence[str]) -> list[str]:
    out = [a.strip() for a in to if a.strip()]
    if not out:
        raise DeliveryError("no recipient: give --to a@b.c,... (or SALESNB_DELIVER_TO)")
    return [address(a, "--to") for a in out]


def address(text: str, what: str) -> str:
    r"""An e-mail address checked as ``email.headerregistry`` reads it: one ``user@domain``
    (or ``Name <user@domain>``), no control, format or line-separator character (a header
    injection such as ``a@b.c\x0bBcc:x@y.z``). Raises :class:`DeliveryError` naming ``what``.

    >>> address("Sales <r@example.com>", "SALESNB_SMTP_FROM")
    'Sales <r@example.com>'
    >>> try:
    ...     address("a@b.c\x0bBcc:x@y.z", "--to")
    ... except DeliveryError as exc:
    ...     print(exc)
    --to: 'a@b.c\x0bBcc:x@y.z' is not an e-mail address (it holds the control character U+000B)
    """
    odd = next((c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if odd is not None:
        raise DeliveryError(f"{what}: {text!r} is not an e-mail address (it holds the control character "
                            f"U+{ord(odd):04X})")
    try:
        header = _policy.header_factory("To", text)
        addresses = header.addresses
        defects = header.defects
    except (ValueError, IndexError, TypeError) as exc:
        raise DeliveryError(f"{what}: {text!r} is not an e-mail address ({exc})") from None
    if len(addresses) != 1 or defects or not addresses[0].username or not addresses[0].domain:
        why = "; ".join(str(d) for d in defects) or ("several addresses" if len(addresses) > 1 else "no user@domain")
        raise DeliveryError(f"{what}: {text!r} is not an e-mail address ({why})")
    return str(addresses[0])


def prepare(period: str, to: Sequence[str], *, sender: str, base: Path | None = None) -> Delivery:
    """The message for ``period``: the report, or a failure notice when a page is not whole."""
    params, out, pages = _base(base)
    with using(params.get("language") or "en"):
        return _prepare(period, to, sender, out, pages)


def _prepare(period: str, to: Sequence[str], sender: str, out: Path, pages: list[str]) -> Delivery:
    recipients = _validate_recipients(to)
    manifest = _manifest(out)
    entries = manifest.get(period)
    if entries is None:
        raise DeliveryError(f"period {period} is not published in {out} (published: "
                            f"{', '.join(sorted(manifest)) or 'none'})")
    folder = out / period.replace("..", "_to_")
    pages = pages or [n for n in entries if n != "_period"]
    problems = []
    for name in pages:
        e = entries.get(name) or {}
        page = folder / f"{name}.html"
        if e.get("status") != "ok" or not page.is_file():
            problems.append(t("mail.page_failed", page=name, error=str(e.get("error") or t("mail.no_page"))))
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, ", ".join(recipients)
    msg["Date"], msg["Message-ID"] = formatdate(localtime=True), make_msgid(domain="salesnb")
    if problems:
        msg["Subject"] = t("mail.failed_subject", period=period)
        msg.set_content("\n".join([t("mail.failed_intro", period=period), "", *problems, "",
                                   t("mail.failed_outro")]) + "\n")
        return Delivery(msg, False, problems, [])
    headline = (entries.get("_period") or {}).get("headline") or {}
    msg["Subject"] = t("mail.subject", period=period)
    found = [f for f in (entries.get("_period") or {}).get("findings") or [] if isinstance(f, dict)]
    lines = [t("mail.intro", period=period), ""] + [f"{k}: {v}" for k, v in headline.items()]
    # the findings, as on the index: a manager reads them before opening any page
    lines += ["", t("findings.title") + ":"] + (
        [f"{i}. {f.get('text', '')}" + (f" {f['money']}." if f.get("money") else "") for i, f in enumerate(found, 1)]
        or [t("findings.none")])
    attachments = [folder / f"{n}.html" for n in pages]
    book = folder / "kpis.xlsx"
    if book.is_file():
        attachments.append(book)
    lines += ["", t("mail.attached"), *(f"  {p.name}" for p in attachments)]
    msg.set_content("\n".join(lines) + "\n")
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td style=\"text-align:right\"><b>{html.escape(str(v))}"
                   "</b></td></tr>" for k, v in headline.items())
    items = "".join(f"<li>{html.escape(str(f.get('text', '')))}"
                    + (f" <b>{html.escape(str(f['money']))}</b>." if f.get("money") else "") + "</li>" for f in found)
    listed = f"<ol>{items}</ol>" if found else f"<p>{html.escape(t('findings.none'))}</p>"
    msg.add_alternative(
        f"<p>{html.escape(t('mail.intro', period=period))}</p><table>{rows}</table>"
        f"<h3>{html.escape(t('findings.title'))}</h3>{listed}"
        f"<p>{html.escape(t('mail.attached'))} {html.escape(', '.join(p.name for p in attachments))}</p>",
        subtype="html")
    for path in attachments:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        name = f"{period.replace('..', '_to_')}-{path.name}"
        if main == "text":  # the pages are UTF-8: say so, or a mail reader guesses Latin-1
            msg.add_attachment(path.read_text(encoding="utf-8"), subtype=sub, charset="utf-8", filename=name)
        else:
            msg.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=name)
    return Delivery(msg, True, [], attachments)


def send(msg: EmailMessage, settings: SmtpSettings) -> None:
    """Send over SMTP (STARTTLS when asked, login when a user is set); errors masked."""
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                context = ssl.create_default_context(cafile=settings.cafile or None)
                smtp.starttls(context=context)
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        text = redact_text(f"{type(exc).__name__}: {exc}", {settings.password} if settings.password else set())
        raise DeliveryError(f"could not send through {settings.host}:{settings.port}: {text}") from None


def deliver(period: str | None, to: Sequence[str], *, base: Path | None = None, dry_run: bool = False,
            environ: Mapping[str, str] | None = None) -> tuple[Delivery, Path | None]:
    """Prepare and send (or, with ``dry_run``, write to ``outputs/mail/``) one period's
    message; returns it with the file written. The caller exits non-zero when not ``ok``."""
    params, out, _ = _base(base)
    to = _validate_recipients(to)
    period = period or latest_closed_period(out, fiscal_year_start=int(params.get("fiscal_year_start") or 1))
    if dry_run:
        env = {**dotenv(), **os.environ} if environ is None else dict(environ)
        sender = address(env.get("SALESNB_SMTP_FROM", "").strip() or "salesnb@localhost", "SALESNB_SMTP_FROM")
        delivery = prepare(period, to, sender=sender, base=base)
        path = out / "mail" / f"{period.replace('..', '_to_')}.eml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(delivery.message))
        return delivery, path
    settings = smtp_settings(environ)
    delivery = prepare(period, to, sender=settings.sender, base=base)
    send(delivery.message, settings)
    return delivery, None
