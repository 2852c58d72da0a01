"""A logging filter that keeps secrets out of every log line, on the console handler.

Our own log calls never pass secrets, but libraries may: an upstream error that echoes the API key,
an exception whose message quotes a header. So the last step before output replaces the configured
secret values and anything that looks like a credential (Bearer/Basic tokens, `sk-` keys) in the
message and in the formatted traceback.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_PATTERNS = re.compile(
    r"(?i)(?<=\bbearer )[^\s'\",]+|(?<=\bbasic )[A-Za-z0-9+/=]{8,}|\bsk-[A-Za-z0-9_\-]{6,}"
)
# settings whose values are secrets (ANYMAIL's nested ones are listed by key)
SECRET_SETTINGS = ("SECRET_KEY", "KIMI_API_KEY", "INBOUND_EMAIL_SECRET")
SECRET_ANYMAIL_KEYS = ("WEBHOOK_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY", "BREVO_API_KEY")


def _secret_values() -> list[str]:
    from django.conf import settings

    values: list[str] = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
    anymail = getattr(settings, "ANYMAIL", {}) or {}
    for key in SECRET_ANYMAIL_KEYS:
        value = anymail.get(key) or ""
        for item in value if isinstance(value, list | tuple) else [value]:
            values += [str(item), *str(item).split(":", 1)[1:]]  # "user:password": the password too
    # longest first, so a secret that contains another is replaced whole; very short values
    # (a one-letter dev password) would redact half the log
    return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)


def redact(text: str) -> str:
    for value in _secret_values():
        text = text.replace(value, REDACTED)
    return _PATTERNS.sub(REDACTED, text)


class SecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
