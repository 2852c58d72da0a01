"""Where files live (uploads, renditions, raw emails, exports) and how big an upload may be."""

from __future__ import annotations

from pathlib import Path

import environ

from triage.settings.base import DEBUG, VAR_DIR, env

MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# TRIAGE_STORAGE=s3 puts every stored object (uploads, renditions, raw emails, exports) in an
# S3-compatible bucket, so web and workers on different machines share them without a shared
# volume. Workers copy an object to a temporary file when ffmpeg or Pillow need a path
# (triage.services.storage.local_path); the web process streams objects through Django with the
# same safe headers as from disk. The default, "filesystem", is MEDIA_ROOT.
TRIAGE_STORAGE = env.str("TRIAGE_STORAGE", default="filesystem")
if TRIAGE_STORAGE not in ("filesystem", "s3"):
    raise environ.ImproperlyConfigured("TRIAGE_STORAGE must be 'filesystem' or 's3'")

STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env.str(
                    "TRIAGE_S3_BUCKET", default="triage-media" if DEBUG else environ.Env.NOTSET
                ),
                # empty: AWS itself; set it for MinIO, Ceph, R2, a local test server...
                "endpoint_url": env.str("TRIAGE_S3_ENDPOINT_URL", default="") or None,
                "region_name": env.str("TRIAGE_S3_REGION", default="") or None,
                # empty: boto3's own chain (instance role, ~/.aws, AWS_* variables)
                "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
                "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
                "location": env.str("TRIAGE_S3_PREFIX", default=""),
                "addressing_style": env.str("TRIAGE_S3_ADDRESSING_STYLE", default="") or None,
                # keys are content hashes: the same key always holds the same bytes
                "file_overwrite": True,
                "default_acl": None,  # the bucket stays private; objects are served through Django
                "querystring_auth": True,
            },
        }
        if TRIAGE_STORAGE == "s3"
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Uploads: Django spools anything over this to a temp file, so big recordings never sit in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # non-file form fields only
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("TRIAGE_MAX_FILES_PER_TICKET", default=20)
TRIAGE_MAX_IMAGE_BYTES = env.int("TRIAGE_MAX_IMAGE_BYTES", default=25 * 1024 * 1024)
TRIAGE_MAX_VIDEO_BYTES = env.int("TRIAGE_MAX_VIDEO_BYTES", default=200 * 1024 * 1024)
