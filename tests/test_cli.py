"""The command line: one-line errors a person can act on, never a traceback."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from harmmap.cli import main

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/harmmap"


@pytest.mark.parametrize("args", [["db", "migrate"], ["db", "init"], ["geo", "load"]])
def test_unreachable_database_is_one_line_with_a_fix(args):
    proc = subprocess.run([sys.executable, "-m", "harmmap", *args], capture_output=True, text=True, timeout=60,
                          env={"HARMMAP_DATABASE_URL": UNREACHABLE, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "127.0.0.1:1" in lines[0] and "unavailable" in lines[0] and "pg_ctlcluster" in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_setting_is_one_line():
    result = CliRunner().invoke(main, ["db", "migrate"], env={"HARMMAP_POOL_MAX_SIZE": "lots"})
    assert result.exit_code == 2
    assert "HARMMAP_POOL_MAX_SIZE='lots'" in result.output


@pytest.mark.db
def test_migrate_and_load_through_the_cli_say_nothing_changed(settings, geo_loaded):
    env = {"HARMMAP_DATABASE_URL": settings.database_url}
    migrate = CliRunner().invoke(main, ["db", "migrate"], env=env)
    assert migrate.exit_code == 0 and "applied 0 migration(s)" in migrate.output
    load = CliRunner().invoke(main, ["geo", "load"], env=env)
    assert load.exit_code == 0 and "unchanged" in load.output
    status = CliRunner().invoke(main, ["db", "status"], env=env)
    assert "wards 2022: 704" in status.output
