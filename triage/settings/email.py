"""Email out (replies, acknowledgements, mention notices, the weekly report) and in (raw MIME
endpoint and the providers' webhooks)."""

from __future__ import annotations

import environ

from triage.settings.base import DEBUG, env

# SMTP: django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST...; a provider's API:
# anymail.backends.<esp>.EmailBackend with its keys in ANYMAIL (below). The console backend prints.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="triage@localhost")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_S", default=30)
# Sends that meet a server down or a 4xx are retried this many times (backoff 2, 4 ... 60 s).
TRIAGE_OUTBOUND_RETRIES = env.int("TRIAGE_OUTBOUND_RETRIES", default=5)
# Acknowledgements of new tickets: at most one per sender per interval (RFC 3834 loop safety).
TRIAGE_ACK_ENABLED = env.bool("TRIAGE_ACK_ENABLED", default=True)
TRIAGE_ACK_MIN_INTERVAL_S = env.int("TRIAGE_ACK_MIN_INTERVAL_S", default=3600)
# A web or API ticket whose acknowledgement job never ran (the broker down at commit) is acknowledged
# by the beat's sweep once it is this old, and given up (not mailed) past the second age.
TRIAGE_ACK_SWEEP_AFTER_S = env.int("TRIAGE_ACK_SWEEP_AFTER_S", default=120)
TRIAGE_ACK_SWEEP_MAX_AGE_S = env.int("TRIAGE_ACK_SWEEP_MAX_AGE_S", default=86400)

# The raw MIME endpoint's HMAC secret; anymail's basic-auth secret ("user:password", a list rotates).
if DEBUG:
    INBOUND_EMAIL_SECRET = env.str("INBOUND_EMAIL_SECRET", default="dev-only-inbound-email-secret")
    _ANYMAIL_SECRET = env.list("ANYMAIL_WEBHOOK_SECRET", default=["triage:dev-only-webhook-secret"])
else:
    INBOUND_EMAIL_SECRET = env.str("INBOUND_EMAIL_SECRET")  # required in production
    _ANYMAIL_SECRET = env.list("ANYMAIL_WEBHOOK_SECRET")  # required in production
INBOUND_EMAIL_MAX_SKEW_S = env.int("INBOUND_EMAIL_MAX_SKEW_S", default=300)
# Over this the message is still stored and recorded (status QUARANTINED, "too_large"), not parsed.
INBOUND_EMAIL_MAX_BYTES = env.int("INBOUND_EMAIL_MAX_BYTES", default=40 * 1024 * 1024)
INBOUND_EMAIL_MAX_ATTACHMENT_BYTES = env.int("INBOUND_EMAIL_MAX_ATTACHMENT_BYTES", default=25 * 1024 * 1024)
# New tickets one sender may open by mail within the window (services/throttle.py counters); past
# it the message is stored and quarantined ("rate_limited") with a retry button, not read further.
INBOUND_EMAIL_MAX_NEW_TICKETS_PER_SENDER = env.int("INBOUND_EMAIL_MAX_NEW_TICKETS_PER_SENDER", default=20)
INBOUND_EMAIL_SENDER_WINDOW_S = env.int("INBOUND_EMAIL_SENDER_WINDOW_S", default=3600)
# Our addresses and the queue each feeds: "support@x.com=tier1,billing@x.com=billing_team".
INBOUND_EMAIL_ADDRESSES = env.dict("INBOUND_EMAIL_ADDRESSES", default={"support@triage.local": ""})
# A copy sent to two of our addresses: "one" ticket, or one ticket "per_queue".
INBOUND_EMAIL_COPIES = env.str("INBOUND_EMAIL_COPIES", default="one")
# Thread text the model sees on a follow-up (characters, newest kept); Kimi's 256K window holds it.
# Mailgun signs each post with this key (its dashboard: "HTTP webhook signing key").
_MAILGUN_KEY = env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default="dev-only-mailgun-key" if DEBUG else "")
# Providers whose anymail inbound webhook is mounted under /intake/email/<provider>/; Mailgun only
# when its signing key is set.
# MailerSend (its inbound route's "signing secret"), Mandrill (the webhook key) and Postal (the
# server's public key, base64 without the PEM lines) sign their posts too: each is mounted when its
# key is set, and anymail checks the signature as well as the basic auth.
_MAILERSEND_KEY = env.str("MAILERSEND_INBOUND_SECRET", default="")
_MANDRILL_KEY = env.str("MANDRILL_WEBHOOK_KEY", default="")
_POSTAL_KEY = env.str("POSTAL_WEBHOOK_KEY", default="")
# Resend signs with Svix: its webhook's signing secret ("whsec_..."). The post carries only the
# email's id; the intake worker reads the message from Resend's API with RESEND_API_KEY.
_RESEND_SECRET = env.str("RESEND_INBOUND_SECRET", default="")
INBOUND_EMAIL_PROVIDERS = env.list(
    "INBOUND_EMAIL_PROVIDERS",
    default=[
        *(["mailgun"] if _MAILGUN_KEY else []),
        *(["mailersend"] if _MAILERSEND_KEY else []),
        *(["mandrill"] if _MANDRILL_KEY else []),
        *(["postal"] if _POSTAL_KEY else []),
        *(["resend"] if _RESEND_SECRET else []),
        "sendgrid",
        "postmark",
        "amazon_ses",
        "sparkpost",
        "mailjet",
        "brevo",
    ],
)
# Replies and acknowledgements come from this address; its +token form is their Reply-To.
TRIAGE_SUPPORT_EMAIL = env.str(
    "TRIAGE_SUPPORT_EMAIL", default=next(iter(INBOUND_EMAIL_ADDRESSES), "support@triage.local")
)
ANYMAIL = {
    "WEBHOOK_SECRET": _ANYMAIL_SECRET,
    "MAILGUN_WEBHOOK_SIGNING_KEY": _MAILGUN_KEY,
    # Brevo posts attachment tokens; the intake worker downloads the files with this key.
    "BREVO_API_KEY": env.str("BREVO_API_KEY", default=""),
    "BREVO_API_URL": env.str("BREVO_API_URL", default="https://api.brevo.com/v3/"),
    "RESEND_INBOUND_SECRET": _RESEND_SECRET or None,
    "RESEND_API_KEY": env.str("RESEND_API_KEY", default=""),
    "RESEND_API_URL": env.str("RESEND_API_URL", default="https://api.resend.com/"),
    "MAILERSEND_INBOUND_SECRET": _MAILERSEND_KEY,
    "MANDRILL_WEBHOOK_KEY": _MANDRILL_KEY,
    # Mandrill signs the exact URL it posts to; behind a proxy that rewrites it, set it here.
    "MANDRILL_WEBHOOK_URL": env.str("MANDRILL_WEBHOOK_URL", default="") or None,
    "POSTAL_WEBHOOK_KEY": _POSTAL_KEY,
    # sending through a provider (EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend)
    **{
        key: env.str(key)
        for key in (
            "MAILGUN_API_KEY",
            "MAILGUN_SENDER_DOMAIN",
            "POSTMARK_SERVER_TOKEN",
            "SENDGRID_API_KEY",
            "AMAZON_SES_CONFIGURATION_SET_NAME",
        )
        if env.str(key, default="")
    },
}
# Providers whose post only points at the message (SES's S3 action, Brevo's attachments, Resend):
# the webhook stores the post and answers; the intake worker fetches, with a timeout, and tries again
# with backoff (2, 4 ... 60 s) this many times before it quarantines the mail with the reason.
INBOUND_EMAIL_FETCH_RETRIES = env.int("INBOUND_EMAIL_FETCH_RETRIES", default=6)
INBOUND_EMAIL_FETCH_TIMEOUT_S = env.float("INBOUND_EMAIL_FETCH_TIMEOUT_S", default=30.0)
# SES's S3 action: empty is AWS itself (boto3's region and credential chain); set the endpoint for
# an S3-compatible server (path-style addressing) or a local fake.
INBOUND_EMAIL_S3_ENDPOINT_URL = env.str("INBOUND_EMAIL_S3_ENDPOINT_URL", default="")
INBOUND_EMAIL_S3_REGION = env.str("INBOUND_EMAIL_S3_REGION", default="")
for _name, _key in (
    ("mailersend", _MAILERSEND_KEY),
    ("mandrill", _MANDRILL_KEY),
    ("postal", _POSTAL_KEY),
    ("resend", _RESEND_SECRET),
):
    if _name in INBOUND_EMAIL_PROVIDERS and not _key:
        raise environ.ImproperlyConfigured(
            f"the {_name} inbound webhook needs its signing key (see docs/security.md)"
        )
if "mailgun" in INBOUND_EMAIL_PROVIDERS and not _MAILGUN_KEY:
    raise environ.ImproperlyConfigured("the mailgun inbound webhook needs MAILGUN_WEBHOOK_SIGNING_KEY")
if INBOUND_EMAIL_COPIES not in ("one", "per_queue"):
    raise environ.ImproperlyConfigured("INBOUND_EMAIL_COPIES must be 'one' or 'per_queue'")
