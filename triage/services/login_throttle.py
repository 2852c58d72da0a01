"""Sign-in and password-reset throttling over services/throttle.py's atomic counters.

A sign-in is counted before its password is checked, against three limits in turn:

- the username from this address (TRIAGE_LOGIN_MAX_FAILURES, 5 by default): guessing from one place;
- the username from any address (TRIAGE_LOGIN_MAX_FAILURES_PER_USER, 20): guessing from many places,
  each of which would otherwise get its own 5;
- this address for any username (TRIAGE_LOGIN_MAX_ATTEMPTS_PER_ADDRESS, 100): one password tried
  against many usernames.

All within TRIAGE_LOGIN_WINDOW_S. Past a limit the attempt is refused without checking the password.
A success takes its own count back, and starts the username + address count afresh unless attempts
were refused meanwhile (a burst of guesses cannot be reset by the one right password in it).

A password-reset request is counted the same way before any email goes out, per typed address +
client address, per typed address and per client address (TRIAGE_PASSWORD_RESET_*).

The address is REMOTE_ADDR: behind a proxy it must be the client's (gunicorn `--forwarded-allow-ips`
or the proxy's PROXY protocol), never a header the client could set.
"""

from __future__ import annotations

from django.conf import settings

from triage.services.throttle import Check, Limit, throttle_clear, throttle_hit, throttle_refund


def _setting(name: str) -> int:
    return int(getattr(settings, name))


def _login_checks(*, username: str, ip: str) -> list[Check]:
    window = _setting("TRIAGE_LOGIN_WINDOW_S")
    name = username.strip().casefold()
    return [
        Check(Limit("login-pair", _setting("TRIAGE_LOGIN_MAX_FAILURES"), window), f"{name}|{ip}"),
        Check(Limit("login-user", _setting("TRIAGE_LOGIN_MAX_FAILURES_PER_USER"), window), name),
        Check(Limit("login-address", _setting("TRIAGE_LOGIN_MAX_ATTEMPTS_PER_ADDRESS"), window), ip),
    ]


def login_attempt_begin(*, username: str, ip: str) -> int:
    """Count a sign-in about to check its password: 0 to go on, else the seconds to wait."""
    return throttle_hit(checks=_login_checks(username=username, ip=ip))


def login_attempt_succeeded(*, username: str, ip: str) -> None:
    pair, *wider = _login_checks(username=username, ip=ip)
    throttle_clear(check=pair)
    throttle_refund(checks=wider)


def password_reset_attempt_begin(*, email: str, ip: str) -> int:
    """Count a password-reset request before it sends anything: 0 to go on, else seconds to wait."""
    window = _setting("TRIAGE_PASSWORD_RESET_WINDOW_S")
    address = email.strip().casefold()
    per_email = _setting("TRIAGE_PASSWORD_RESET_MAX_PER_EMAIL")
    return throttle_hit(
        checks=[
            Check(Limit("reset-email", per_email, window), address),
            Check(Limit("reset-address", _setting("TRIAGE_PASSWORD_RESET_MAX_PER_ADDRESS"), window), ip),
        ]
    )
