"""Text responses are gzipped for clients that ask, with weak ETags that still give 304s."""

from __future__ import annotations

import gzip
import json

import pytest

pytestmark = pytest.mark.db


def test_static_javascript_is_gzipped_once_and_revalidates(client):
    plain = client.get("/static/vendor/leaflet/leaflet.js")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    zipped = client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    etag = zipped.headers["ETag"]
    assert etag.startswith('W/"')
    again = client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304


def test_json_data_is_gzipped_and_a_weak_etag_still_gives_304(viewer, demo_index):
    zipped = viewer.get("/map/values.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(zipped.data))
    assert len(body["wards"]) == 704
    again = viewer.get("/map/values.json", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304


def test_small_and_error_responses_are_left_alone(viewer):
    missing = viewer.get("/map/ward/E05999999.json", headers={"Accept-Encoding": "gzip"})
    assert missing.status_code in (404, 503) and "Content-Encoding" not in missing.headers
    assert missing.get_json()["status"] == missing.status_code
