"""Security headers, cookies, HTTPS and the sign-in throttle.

Content-Security-Policy and Permissions-Policy come from triage.middleware.SecurityHeadersMiddleware;
Django sets nosniff, X-Frame-Options, Referrer-Policy and Cross-Origin-Opener-Policy from here.
"""

from __future__ import annotations

from triage.settings.base import DEBUG, env
from triage.settings.providers import TRIAGE_LIMITS_REDIS_URL

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

# Login throttling: after this many failed sign-ins for one username from one address within the
# window, that pair is refused until the oldest failure leaves the window. Counted in Redis when
# there is one (every web process sees the same count), else in the process.
TRIAGE_LOGIN_MAX_FAILURES = env.int("TRIAGE_LOGIN_MAX_FAILURES", default=5)
TRIAGE_LOGIN_WINDOW_S = env.int("TRIAGE_LOGIN_WINDOW_S", default=900)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "login-throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TRIAGE_LIMITS_REDIS_URL,
            "KEY_PREFIX": env.str("TRIAGE_LOGIN_THROTTLE_PREFIX", default="triage:login"),
        }
        if TRIAGE_LIMITS_REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "login-throttle"}
    ),
}

# --- The REST API and outbound webhooks ---------------------------------------------------------
# Requests a minute per API token (counted in the login-throttle cache: Redis when configured).
TRIAGE_API_RATE_PER_MINUTE = env.int("TRIAGE_API_RATE_PER_MINUTE", default=600)
# Webhook URLs resolving to loopback, private, link-local or metadata addresses are refused unless
# this is on: on for a laptop (DEBUG), off in production unless an on-premise receiver needs it.
TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("TRIAGE_WEBHOOK_ALLOW_PRIVATE_URLS", default=DEBUG)
TRIAGE_WEBHOOK_CONNECT_TIMEOUT_S = env.float("TRIAGE_WEBHOOK_CONNECT_TIMEOUT_S", default=5.0)
TRIAGE_WEBHOOK_READ_TIMEOUT_S = env.float("TRIAGE_WEBHOOK_READ_TIMEOUT_S", default=10.0)
