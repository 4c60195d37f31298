"""``harmmap serve`` (registered through the harmmap.commands entry point)."""

from __future__ import annotations

import os
import secrets
import sys

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--dev", is_flag=True, help="Flask's reloading development server instead of gunicorn.")
def serve(host: str, port: int, workers: int, dev: bool) -> None:
    """Serve the map, briefings and API."""
    from harmmap import db
    from harmmap.config import Settings

    settings = Settings.from_env()  # fail here, in one line, on a bad setting
    with db.connect(settings.database_url, timeout_s=settings.db_timeout_s) as conn:
        db.require_schema(conn)  # ... or on a database that is down or not set up
    if dev:
        from web import create_app

        create_app().run(host=host, port=port, debug=False, use_reloader=True)
        return
    if not settings.secret_key:
        # demo/test only (production requires one): one random key shared by this server's workers, so a
        # session signed by one worker is read by the others; everyone signs in again after a restart.
        os.environ["HARMMAP_SECRET_KEY"] = secrets.token_hex(32)
    # Each worker builds its own app and pool (no --preload): see docs/architecture.md.
    # web/gunicorn_conf.py: timeouts, worker recycling, JSON logs in production; the flags here win.
    args = [sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_conf", "--bind", f"{host}:{port}",
            "--workers", str(workers), "web:create_app()"]
    os.execv(sys.executable, args)
