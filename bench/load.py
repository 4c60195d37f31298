"""Load: ``wrk`` for 60 s with 64 connections on a mix of map data, API items and tiles, signed in.

HarmMap runs under gunicorn with the production settings (``web/gunicorn_conf.py``, where it exists; else
2 sync workers) on the database in ``HARMMAP_DATABASE_URL`` (the demo one), with rate limiting off
(``HARMMAP_RATE_LIMIT`` empty): one key at this rate would pass the default limit, and the run measures
the server, not the limiter. An analyst API key is made for the run
(``harmmap.accounts.create_key``, for a user ``bench-load``) and revoked at the end; a wrk Lua script
sends it and rotates over the paths below, counting answers by status class, so the section reports
requests/s, p50 and p99, non-2xx/3xx answers, socket errors and 5xx (which must be 0). Every request
is audited, as in production.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from bench._keys import run_key
from bench.api import _free_port, _stop, _wait_up
from harmmap import db
from harmmap.config import REPO_ROOT, Settings

SECONDS, QUICK_SECONDS = 60, 10
THREADS, CONNECTIONS = 2, 64
USER = "bench-load"
WORKERS = 2
#: London's centre at z12 and z14 (Westminster), the map's opening views.
PATHS = (
    "/map/values.json?layer=harm_index",
    "/map/values.json?layer=crack_house_closures",
    "/map/values.json?layer=drug_trafficking&borough=Lambeth",
    "/map/worst.json",
    "/map/worst.json?rule=top_decile",
    "/map/wards.geojson?vintage=2022&tolerance=25",
    "/map/ward/E05013806.json",
    "/api/collections/wards/items?limit=100",
    "/api/collections/wards/items?limit=100&bbox=-0.15,51.49,-0.10,51.52",
    "/api/collections/harm-index/items?limit=100",
    "/api/tiles/12/2046/1361.mvt",
    "/api/tiles/12/2047/1362.mvt",
    "/api/tiles/14/8186/5448.mvt",
    "/api/tiles/14/8187/5449.mvt",
)

LUA = """
local paths = {%(paths)s}
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  n = id
  s2, s3, s4, s5 = 0, 0, 0, 0
  wrk.headers["Authorization"] = "Bearer %(token)s"
  wrk.headers["Accept-Encoding"] = "gzip"
end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1 elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then s3 = s3 + 1 else s2 = s2 + 1 end
end
function done(summary, latency, requests)
  local t = {0, 0, 0, 0}
  for _, thread in ipairs(threads) do
    t[1] = t[1] + thread:get("s2"); t[2] = t[2] + thread:get("s3")
    t[3] = t[3] + thread:get("s4"); t[4] = t[4] + thread:get("s5")
  end
  io.write(string.format("STATUS 2xx=%%d 3xx=%%d 4xx=%%d 5xx=%%d\\n", t[1], t[2], t[3], t[4]))
  io.write(string.format("LATENCY p50=%%.3f p90=%%.3f p99=%%.3f max=%%.3f\\n", latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


@contextmanager
def _stopping(server: subprocess.Popen, tmp: Path) -> Iterator[None]:
    try:
        yield
    finally:
        _stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


def _check(base: str, token: str) -> None:
    """Every path answers 200 before the run, or the figures would be of error pages."""
    for path in PATHS:
        req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            if r.status != 200:
                raise RuntimeError(f"{path}: {r.status}")


def _number(pattern: str, text: str, default: float = 0.0) -> float:
    m = re.search(pattern, text, re.M)
    return float(m[1]) if m else default


def run(settings: Settings, points: int = 1_000_000) -> str:
    if shutil.which("wrk") is None:
        raise LookupError("wrk is not installed (Debian package wrk; scripts/bootstrap.sh installs it)")
    with db.connect(settings.database_url) as conn:
        if conn.execute("SELECT version FROM harm.current").fetchone() is None:
            raise LookupError("no harm index published in the database: run make demo first")
    seconds = SECONDS if points >= 1_000_000 else QUICK_SECONDS
    tmp = Path(tempfile.mkdtemp(prefix="harmmap-bench-load-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HARMMAP_DATABASE_URL": settings.database_url,
           "HARMMAP_SECRET_KEY": secrets.token_hex(32), "HARMMAP_RATE_LIMIT": ""}
    conf = REPO_ROOT / "web" / "gunicorn_conf.py"
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    cmd += ["--config", "python:web.gunicorn_conf"] if conf.is_file() else ["--workers", str(WORKERS)]
    server = subprocess.Popen([*cmd, "web:create_app()"], env=env, stdout=(tmp / "server.log").open("wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    with run_key(settings, USER, "bench/load.py run") as token, _stopping(server, tmp):
        _wait_up(f"{base}/healthz", server)
        _check(base, token)
        script = tmp / "mix.lua"
        script.write_text(LUA % {"paths": ", ".join(f'"{p}"' for p in PATHS), "token": token}, encoding="utf-8")
        subprocess.run(["wrk", "-t2", "-c8", "-d3s", "-s", str(script), base], capture_output=True, check=True)  # warm
        load_before = os.getloadavg()
        started = time.monotonic()
        out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
                              "--latency", "-s", str(script), base], capture_output=True, text=True, check=True).stdout
        elapsed = time.monotonic() - started
        load_after = os.getloadavg()
        errors_logged = sum(1 for line in (tmp / "server.log").read_text(errors="replace").splitlines()
                            if "Traceback" in line or "[ERROR]" in line)
    status = dict(re.findall(r"(\dxx)=(\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    figures = {
        "requests": int(_number(r"(\d+) requests in", out)), "rps": _number(r"Requests/sec:\s+([\d.]+)", out),
        "p50": _number(r"LATENCY p50=([\d.]+)", out), "p90": _number(r"p90=([\d.]+)", out),
        "p99": _number(r"p99=([\d.]+)", out), "max": _number(r"max=([\d.]+)", out),
        "non2xx3xx": int(_number(r"Non-2xx or 3xx responses:\s+(\d+)", out)),
        "socket": "none" if not sock else ", ".join(f"{k} {v}" for k, v in zip(("connect", "read", "write", "timeout"),
                                                                               sock.groups())),
        "s5xx": int(status.get("5xx", 0)), "s4xx": int(status.get("4xx", 0)), "s2xx": int(status.get("2xx", 0)),
    }
    text = _section(figures, seconds, elapsed, load_before, load_after, errors_logged, conf.is_file())
    if figures["s5xx"] or figures["non2xx3xx"]:
        raise RuntimeError(f"the load run had errors:\n{text}\n{out}")
    return text


def _conf_workers() -> int:
    from web import gunicorn_conf

    return int(gunicorn_conf.workers)


def _section(f: dict, seconds: int, elapsed: float, before: tuple, after: tuple, logged: int, conf: bool) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_workers = _conf_workers() if conf else WORKERS
    workers = f"web/gunicorn_conf.py, {n_workers} sync workers" if conf else f"{WORKERS} sync workers"
    return "\n".join([
        f"## Load: {seconds} s, {CONNECTIONS} connections, signed in ({when})",
        "",
        f"`python -m bench load`: HarmMap under gunicorn ({workers}) on the demo database, `wrk -t{THREADS} "
        f"-c{CONNECTIONS} -d{seconds}s --latency` with a Lua script rotating over {len(PATHS)} paths: map data "
        "(values for the index, an indicator and a borough; worst wards; ward shapes; one ward), API items "
        "(100 wards, a bbox, the harm index) and tiles at z12 and z14. Every request carries an analyst "
        "API key made for the run (revoked after it) and is audited. Rate limiting was off for the run "
        "(`HARMMAP_RATE_LIMIT` empty), so it measures the server, not the limiter; wrk, gunicorn and PostgreSQL "
        f"share the machine's {os.cpu_count()} cores with other work.",
        "",
        "| requests | requests/s | p50 | p90 | p99 | max | non-2xx/3xx | 5xx | socket errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {f['requests']:,} | {f['rps']:,.0f} | {f['p50']:.0f} ms | {f['p90']:.0f} ms | {f['p99']:.0f} ms | "
        f"{f['max']:.0f} ms | {f['non2xx3xx']} | {f['s5xx']} | {f['socket']} |",
        "",
        f"Answers by class: 2xx {f['s2xx']:,}, 4xx {f['s4xx']}, 5xx {f['s5xx']}; errors in the server log: {logged}. "
        f"Load average (1, 5, 15 min) before {before[0]:.2f}, {before[1]:.2f}, {before[2]:.2f}; after "
        f"{after[0]:.2f}, {after[1]:.2f}, {after[2]:.2f} (wall time {elapsed:.0f} s).",
        "",
        f"{CONNECTIONS} connections on {n_workers} workers keep every worker busy, so the latency is mostly waiting "
        f"in gunicorn's queue: {CONNECTIONS} / {f['rps']:,.0f} requests/s = {CONNECTIONS / max(f['rps'], 1e-9) * 1000:,.0f} ms "
        "(Little's law), against the p50 above. The throughput is the figure to compare between runs.",
    ])
