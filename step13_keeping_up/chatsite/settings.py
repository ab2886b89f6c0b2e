"""Django settings for chatsite, the workshop's chat project.

Values that differ between your laptop and a server come from environment
variables, with defaults that are safe for local use.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Set DJANGO_SECRET_KEY on any machine other than your own laptop.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-workshop-key-for-local-use-only")

# DJANGO_DEBUG=0 turns debug pages off.
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"

# Which host names this site answers to. The WebSocket origin check in step 02
# uses the same list, so a page from any other site cannot open our sockets.
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's own, and serves ASGI
    # (HTTP and WebSocket) instead of WSGI (HTTP only).
    "daphne",
    # channels itself: for its runworker command (manage.py runworker). Without
    # it, Django answers "Unknown command: 'runworker'".
    "channels",
    "chat",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatsite.urls"

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

WSGI_APPLICATION = "chatsite.wsgi.application"
# The application Daphne's runserver serves: our asgi.py.
ASGI_APPLICATION = "chatsite.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        # The browser tests run the server in another process, so the test
        # database must be a file. Never name db.sqlite3 here: a test run
        # deletes its test database, and your data with it.
        "TEST": {"NAME": BASE_DIR / "test_db.sqlite3"},
        # Every message is saved on its way (the profile shows it). Keep the
        # connection for a minute instead of opening one per save, and let SQLite
        # write ahead to a log (WAL) and sync to disk at checkpoints only: a power
        # cut may then undo the last commits, a crashed server loses nothing.
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }
}

# `python manage.py test` fails when it finds no tests, instead of "Ran 0 tests ... OK".
TEST_RUNNER = "chatsite.test_runner.ChatTestRunner"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# Where the login page sends you after logging in, and the logout button after
# logging out (URL names). @login_required sends visitors to LOGIN_URL, whose
# default, /accounts/login/, is where chatsite/urls.py puts the login page.
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "login"

# The channel layer: a post office between consumers, here kept in Redis so that
# consumers in different server processes can reach each other too.
# REDIS_URL names your Redis server; the default is one running on this machine.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        # Chosen by measuring (README): the pub/sub layer hands a room message to
        # each server process once, where the default layer stores a copy in Redis
        # for every member. The price: no mailbox keeps a message for a socket, so
        # only those listening at that moment get it (one sent while Redis restarts,
        # or while no worker runs, is lost), and an idle socket must check that
        # Redis is still there (LAYER_CHECK_SECONDS in consumers.py).
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    },
}

# Celery (chatsite/celery.py reads every setting whose name starts with CELERY_).
# The broker carries each job from the server to the worker: the same Redis.
CELERY_BROKER_URL = REDIS_URL

# Django's cache, in Redis too: the server sets a job's flag, the worker reads it.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    },
}

# The log files a user may follow on the /logs/ page, by name. The page sends one
# of these names, never a path: a path from a browser could name any file on the
# server (/etc/passwd, settings.py). CHAT_LOG_DIR moves the folder.
LOG_DIR = Path(os.environ.get("CHAT_LOG_DIR", BASE_DIR / "logs"))
FOLLOWED_LOGS = {
    "access": LOG_DIR / "access.log",
    "error": LOG_DIR / "error.log",
}

# How fast one user may send (chat/limits.py): 5 messages a second, 20 at once. A
# person never meets it; a load test, where one machine sends for everybody, raises it.
CHAT_MESSAGES_PER_SECOND = float(os.environ.get("CHAT_MESSAGES_PER_SECOND", "5"))
CHAT_MESSAGE_BURST = int(os.environ.get("CHAT_MESSAGE_BURST", "20"))

# Fair use: at most this many jobs run at once for one user (one for each page that
# follows a log). Raise it for a load test, whose one user is a machine.
CHAT_JOBS_PER_USER = int(os.environ.get("CHAT_JOBS_PER_USER", "3"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# What the server prints, under `manage.py runserver` as under `daphne`. Without
# this, runserver shows Django's own lines only, and a message the channel layer
# drops (channels_redis says so at INFO) never reaches the terminal. One line per
# event, with the time and the part of the chat it comes from.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line"},
    },
    "loggers": {
        # Our consumer: "channel layer unreachable" when Redis is gone.
        "chat": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # The channel layer: a message it drops, over capacity (INFO).
        "channels_redis": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # runworker: "Running worker for channels ['mentions']" when it starts.
        "django.channels": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
