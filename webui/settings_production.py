"""Production settings: the base settings, hardened (``manage.py check --deploy`` passes).

Needs ``DJANGO_SECRET_KEY`` (50+ random characters) and ``DJANGO_ALLOWED_HOSTS``; serves
behind HTTPS (``DJANGO_SECURE_SSL_REDIRECT=0`` when a proxy already redirects)."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from webui.settings import *  # noqa: F403

DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("picloud-development"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to 50 or more random characters")
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or str(BASE_DIR.parent / "build" / "static")  # noqa: F405
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1"
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
