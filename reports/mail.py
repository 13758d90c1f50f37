"""Sending the digest by SMTP: STARTTLS or SSL, credentials from the environment, nothing else."""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

__all__ = ["SmtpSettings", "MailError", "send"]


class MailError(RuntimeError):
    """The digest could not be handed to the mail server; the message says why."""


@dataclass
class SmtpSettings:
    """Where the digest goes out. ``security``: ``starttls`` (default), ``ssl`` or ``none`` (a relay on
    the same host only). User and password come from LOOTWATCH_SMTP_USER / LOOTWATCH_SMTP_PASSWORD."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    timeout: float = 30.0

    def credentials(self) -> tuple[str, str] | None:
        user = os.environ.get("LOOTWATCH_SMTP_USER", "")
        password = os.environ.get("LOOTWATCH_SMTP_PASSWORD", "")
        return (user, password) if user else None


def send(msg: EmailMessage, settings: SmtpSettings) -> None:
    """Hand ``msg`` to the server; raises MailError with the reason if it was not accepted."""
    if not settings.host:
        raise MailError("no SMTP server configured (smtp_host in lootwatch.toml)")
    if settings.security not in ("starttls", "ssl", "none"):
        raise MailError(f"smtp_security must be starttls, ssl or none, not {settings.security!r}")
    context = ssl.create_default_context()
    try:
        if settings.security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with server:
            if settings.security == "starttls":
                server.starttls(context=context)
            login = settings.credentials()
            if login:
                server.login(*login)
            refused = server.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"{settings.host}:{settings.port}: {type(exc).__name__}: {exc}") from exc
    if refused:
        raise MailError(f"recipients refused: {', '.join(refused)}")
