"""Security headers, cookies, HTTPS and the rate limits.

Content-Security-Policy and Permissions-Policy come from triage.middleware.SecurityHeadersMiddleware;
Django sets nosniff, X-Frame-Options, Referrer-Policy and Cross-Origin-Opener-Policy from here.
"""

from __future__ import annotations

from triage.settings.base import DEBUG, env

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    # Sent only on HTTPS requests (as seen through SECURE_PROXY_SSL_HEADER behind the proxy).
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=False)  # usually the proxy's job

# Rate limits (triage/services/throttle.py): fixed-window counters, each attempt counted atomically
# before the work it guards, in Redis when there is one, else in the database (every web process
# shares either). Sign-ins, within TRIAGE_LOGIN_WINDOW_S: per username + address, per username from
# any address, per address for any username; past one the password is not even checked.
TRIAGE_LOGIN_MAX_FAILURES = env.int("TRIAGE_LOGIN_MAX_FAILURES", default=5)
TRIAGE_LOGIN_MAX_FAILURES_PER_USER = env.int("TRIAGE_LOGIN_MAX_FAILURES_PER_USER", default=20)
TRIAGE_LOGIN_MAX_ATTEMPTS_PER_ADDRESS = env.int("TRIAGE_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", default=100)
TRIAGE_LOGIN_WINDOW_S = env.int("TRIAGE_LOGIN_WINDOW_S", default=900)
# Password-reset requests (each may send an email), within TRIAGE_PASSWORD_RESET_WINDOW_S.
TRIAGE_PASSWORD_RESET_MAX_PER_EMAIL = env.int("TRIAGE_PASSWORD_RESET_MAX_PER_EMAIL", default=3)
TRIAGE_PASSWORD_RESET_MAX_PER_ADDRESS = env.int("TRIAGE_PASSWORD_RESET_MAX_PER_ADDRESS", default=20)
TRIAGE_PASSWORD_RESET_WINDOW_S = env.int("TRIAGE_PASSWORD_RESET_WINDOW_S", default=3600)
TRIAGE_THROTTLE_KEY_PREFIX = env.str("TRIAGE_THROTTLE_KEY_PREFIX", default="triage:throttle")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- The REST API and outbound webhooks ---------------------------------------------------------
# Requests a minute per API token (the rate-limit counters above: Redis or the database).
TRIAGE_API_RATE_PER_MINUTE = env.int("TRIAGE_API_RATE_PER_MINUTE", default=600)
# Webhook URLs resolving to loopback, private, link-local or metadata addresses are refused unless
# this is on: on for a laptop (DEBUG), off in production unless an on-premise receiver needs it.
TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS", default=DEBUG)
TRIAGE_WEBHOOK_CONNECT_TIMEOUT_S = env.float("TRIAGE_WEBHOOK_CONNECT_TIMEOUT_S", default=5.0)
TRIAGE_WEBHOOK_READ_TIMEOUT_S = env.float("TRIAGE_WEBHOOK_READ_TIMEOUT_S", default=10.0)

# --- Hand-off to Jira, GitHub, Zendesk, Slack (services/handoff.py) -----------------------------
# The Fernet key (urlsafe base64 of 32 bytes) that encrypts the destinations' API tokens and webhook
# secrets in the database. Empty: derived from DJANGO_SECRET_KEY (rotating that then voids them).
TRIAGE_INTEGRATIONS_KEY = env.str("TRIAGE_INTEGRATIONS_KEY", default="")
# Tries of one hand-off before it is shown as failed (429, 5xx and time-outs are tried again).
TRIAGE_HANDOFF_MAX_ATTEMPTS = env.int("TRIAGE_HANDOFF_MAX_ATTEMPTS", default=8)
# Read time-out of one call to Jira, GitHub, Zendesk or Slack (connect: the webhooks' setting).
TRIAGE_HANDOFF_READ_TIMEOUT_S = env.float("TRIAGE_HANDOFF_READ_TIMEOUT_S", default=30.0)
