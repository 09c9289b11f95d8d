"""Django settings for the web UI. Everything that differs between machines comes from the
environment: ``DATABASE_URL`` (SQLite under PICLOUD_HOME by default), ``DJANGO_SECRET_KEY``,
``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``. ``webui.settings_production`` hardens these."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from picloud.config import getconfigpath

BASE_DIR = Path(__file__).resolve().parent


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() in {"1", "true", "yes", "on"}
#: Only for a development machine; production settings refuse to start without a real one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "picloud-development-only-not-a-secret")
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "webui.ledger",
    "webui.apikeys",
    "webui.dashboard",
    "webui.metrics",
    "webui.api",
    "webui.crons",
    "webui.published",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webui.api.shortcut.EngineCallsShortcut",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webui.urls"
WSGI_APPLICATION = "webui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_SQLITE = f"sqlite:///{os.path.join(getconfigpath(), 'webui.sqlite3')}"
DATABASES = {"default": dj_database_url.config(default=_SQLITE, conn_max_age=60)}
#: Test runs name their own database (``make test`` picks one per run), so that two runs on one
#: PostgreSQL server do not drop each other's ``test_postgres``.
if os.environ.get("DJANGO_TEST_DATABASE"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DJANGO_TEST_DATABASE"]}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # the recorder and the web server write at once: wait for the lock instead of failing
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
#: ``collectstatic`` target for production; in development WhiteNoise serves from the apps.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None
LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"picloud": {"handlers": ["console"], "level": "INFO"}},
}

#: Requests per second one API key may make to the HTTP API (in each server process); above
#: it the API answers 429 with Retry-After. ``PICLOUD_API_RATE`` sets it. One client calling
#: and waiting in a loop makes about 600 a second: it is never held up.
PICLOUD_API_RATE = int(os.environ.get("PICLOUD_API_RATE") or 2000)
