"""A minimal Django project that mounts drf-chunked-upload's ChunkedUploadView (peer for the bench).

Token authentication (one database lookup per request, as chunkup verifies a
bearer token per request), SQLite in WAL mode with synchronous=NORMAL (as chunkup
runs it), DEBUG off, no middleware: the app as its README sets it up, nothing more.
"""

import os
from pathlib import Path

WORK = Path(os.environ.get("DRF_BENCH_DIR", "/tmp/chunkup-bench/drf-data"))

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_chunked_upload",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(WORK / "db.sqlite3"),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
MEDIA_ROOT = str(WORK / "media")
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DRF_CHUNKED_UPLOAD_ABSTRACT_MODEL = False
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
