"""gzip for text responses (JSON, CSV, HTML, JS, CSS), so a browser on a slow link gets the page in a
third of the bytes; anything already encoded is left alone. Static files, and responses that ask for it
(``response.keep_compressed``: the ward geometry, the same bytes for every reader until a reload), are
compressed once per ETag and kept in memory.

Compressed responses carry ``Vary: Accept-Encoding``, so a cache never hands a gzip body to a client
that did not ask for one, and their ETag becomes weak (as nginx does): the same content, another
encoding. If-None-Match uses the weak comparison (RFC 9110 13.1.2), so 304s keep working.
"""

from __future__ import annotations

import gzip
import threading

from flask import Flask, Response, request

COMPRESSIBLE = ("application/json", "application/problem+json", "application/geo+json", "text/csv",
                "text/html", "text/css", "text/javascript", "application/javascript", "image/svg+xml",
                "application/vnd.oai.openapi+json", "application/vnd.mapbox-vector-tile")
MIN_BYTES = 1024
#: Compressed bodies kept per worker (static files and ward geometry: a few MB in all).
KEPT = 256
_kept: dict[tuple[str, str], bytes] = {}
_kept_lock = threading.Lock()


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def compress(response: Response) -> Response:
    if (response.status_code != 200 or "Content-Encoding" in response.headers or not _accepts_gzip()
            or response.mimetype not in COMPRESSIBLE or request.method != "GET"):
        return response
    response.headers.add("Vary", "Accept-Encoding")
    is_static = request.endpoint == "static" or (request.endpoint or "").endswith(".static")
    etag, weak = response.get_etag()
    if response.direct_passthrough:        # a file from send_file: read it here
        response.direct_passthrough = False
    if (is_static or getattr(response, "keep_compressed", False)) and etag:
        key = (request.path, etag)
        with _kept_lock:
            body = _kept.get(key)
        if body is None:
            body = gzip.compress(response.get_data(), compresslevel=9 if is_static else 6, mtime=0)
            with _kept_lock:
                if len(_kept) >= KEPT:
                    _kept.clear()
                _kept[key] = body
    else:
        data = response.get_data()
        if len(data) < MIN_BYTES:
            return response
        body = gzip.compress(data, compresslevel=6, mtime=0)
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    if etag:
        response.set_etag(etag, weak=True)
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress)
