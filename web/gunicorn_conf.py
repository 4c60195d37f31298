"""gunicorn settings for HarmMap: ``gunicorn -c python:web.gunicorn_conf 'web:create_app()'``.

Used by ``harmmap serve`` and the Docker image. Command-line flags still win over what is set here.

- ``workers``: ``WEB_CONCURRENCY`` (gunicorn's own variable) or ``HARMMAP_WORKERS``, else 2 x cores + 1,
  at most 8 (each worker holds a database pool of up to HARMMAP_POOL_MAX_SIZE connections).
- No ``preload_app``: each worker builds its own app and opens its own pool after the fork; a pool
  inherited over fork would share sockets between processes (docs/architecture.md).
- Timeouts: a worker silent for ``HARMMAP_WORKER_TIMEOUT_S`` (120 s: a whole borough's briefing) is
  killed and replaced; ``graceful_timeout`` lets requests in flight finish on a restart (``kill -HUP``).
- Logs: access and error logs on stderr/stdout, as one JSON object per line in production
  (``HARMMAP_LOG_FORMAT``: auto, json, text), through harmmap.logs.JsonFormatter.
"""

from __future__ import annotations

import os

from harmmap import logs


def _workers() -> int:
    explicit = os.environ.get("WEB_CONCURRENCY") or os.environ.get("HARMMAP_WORKERS")
    if explicit:
        return max(1, int(explicit))
    return min(8, 2 * (os.cpu_count() or 1) + 1)


bind = os.environ.get("HARMMAP_BIND", "127.0.0.1:5000")
workers = _workers()
worker_class = "sync"
preload_app = False
timeout = int(os.environ.get("HARMMAP_WORKER_TIMEOUT_S", "120"))
graceful_timeout = 20
keepalive = 5
#: A worker is replaced after this many requests (with jitter, so they do not all restart at once).
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
#: gunicorn 24+ opens an admin socket in $HOME; two servers on one host would share it, and the image's
#: home is read-only. Workers are managed with signals (HUP, TERM) instead.
control_socket_disable = True

_json = logs.wants_json(os.environ.get("HARMMAP_LOG_FORMAT", "auto"),
                        os.environ.get("HARMMAP_ENVIRONMENT", "demo") == "production")
if _json:
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "harmmap.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }
