from pathlib import Path

import pytest

from harmmap.config import DEFAULT_DATABASE_URL, Settings, SettingsError


def test_defaults_need_no_environment():
    s = Settings.from_env({})
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.protective_marking == "OFFICIAL-SENSITIVE"
    assert s.basemap_url == ""  # closed network: no basemap unless configured


def test_environment_overrides_file(tmp_path: Path):
    cfg = tmp_path / "harmmap.toml"
    cfg.write_text('protective_marking = "OFFICIAL"\npool_max_size = 4\n')
    s = Settings.from_env({"HARMMAP_CONFIG": str(cfg), "HARMMAP_POOL_MAX_SIZE": "6"})
    assert s.protective_marking == "OFFICIAL"
    assert s.pool_max_size == 6


def test_unknown_key_in_file_is_named(tmp_path: Path):
    cfg = tmp_path / "harmmap.toml"
    cfg.write_text('protective_markng = "OFFICIAL"\n')
    with pytest.raises(SettingsError, match="protective_markng"):
        Settings.from_env({"HARMMAP_CONFIG": str(cfg)})


def test_bad_number_names_the_variable():
    with pytest.raises(SettingsError, match="HARMMAP_POOL_MAX_SIZE"):
        Settings.from_env({"HARMMAP_POOL_MAX_SIZE": "lots"})


def test_production_requires_secret_key():
    with pytest.raises(SettingsError, match="HARMMAP_SECRET_KEY"):
        Settings.from_env({"HARMMAP_ENVIRONMENT": "production"})
    assert Settings.from_env({"HARMMAP_ENVIRONMENT": "production", "HARMMAP_SECRET_KEY": "x" * 32}).is_production
