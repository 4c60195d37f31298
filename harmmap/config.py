"""One settings object for every part of HarmMap, from the environment and an optional TOML file.

The environment is an argument (``Settings.from_env(env)``) so tests pass a plain dict.
Precedence: environment variable > ``HARMMAP_CONFIG`` file > default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from harmmap import disclosure, periods
from harmmap.indicators import WeightsError, parse_weights

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/harmmap"
REPO_ROOT = Path(__file__).resolve().parents[1]

ENVIRONMENTS = ("demo", "test", "production")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    environment: str = "demo"
    #: Printed at the top and bottom of every page, PDF and API response.
    protective_marking: str = "OFFICIAL-SENSITIVE"
    #: Reference data shipped with the project (boundaries, lookups, population).
    geodata_dir: Path = REPO_ROOT / "geodata"
    #: XYZ tile URL for a basemap under the wards; empty means none (the closed-network default).
    basemap_url: str = ""
    basemap_attribution: str = ""
    secret_key: str = ""
    pool_min_size: int = 1
    pool_max_size: int = 8
    #: Seconds to wait for a database connection before answering 503 / failing a command.
    db_timeout_s: float = 5.0
    #: Harm index weights, "indicator=weight,..."; empty means the documented defaults (harmmap/indicators.py).
    index_weights: str = ""
    #: Baseline financial year of the strategy's three-year targets.
    target_baseline: str = "FY2023/24"
    #: Permutations for the hotspot pseudo p-values (Gi*, Local Moran), and the seed that makes them repeatable.
    hotspot_permutations: int = 999
    hotspot_seed: int = 2026
    #: PAS design effect: the variance inflation of the survey's weighting and clustering, applied to every
    #: PAS interval and test (1 = simple random sampling). MOPAC publishes none; 1.5 is a cautious value
    #: for a weighted household survey (docs/methodology.md).
    pas_design_effect: float = 1.5
    #: Origins whose web pages may read /api from a browser (CORS), comma-separated; "*" for any; empty: none.
    api_cors_origins: str = ""
    #: Disclosure control (harmmap/disclosure.py): counts from 1 to this minus 1 are shown as "fewer than N"
    #: to roles below ``disclosure_exact_role``; 1 turns suppression off.
    disclosure_min_count: int = 5
    disclosure_exact_role: str = "analyst"
    #: Session cookie ``Secure`` flag: "auto" (on in production, off in demo and test, which run on
    #: http://127.0.0.1), "true" or "false".
    cookie_secure: str = "auto"
    #: Hours a browser session lasts from sign-in (one shift); it does not slide.
    session_hours: float = 8.0
    #: Requests allowed per signed-in user or API key (else per address), Flask-Limiter notation:
    #: "600/minute", "20/second;600/minute"; empty turns rate limiting off.
    rate_limit: str = "600/minute"
    #: Where the counts live: memory:// (per worker process; the demo) or redis://host:6379/0 (shared).
    rate_limit_storage: str = "memory://"
    #: Log lines: "auto" (JSON in production, text elsewhere), "json" or "text".
    log_format: str = "auto"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls._from_env(env)
        if settings.is_production and env.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes", "on"):
            raise SettingsError("FLASK_DEBUG is set but HARMMAP_ENVIRONMENT=production: the debugger would let "
                                "anyone who can reach it run code on the server; unset FLASK_DEBUG")
        return settings

    @classmethod
    def _from_env(cls, env: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {}
        config_file = env.get("HARMMAP_CONFIG")
        if config_file:
            path = Path(config_file)
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise SettingsError(f"HARMMAP_CONFIG={config_file}: cannot read it ({e})") from e
        for f in fields(cls):
            key = f"HARMMAP_{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise SettingsError(f"unknown setting(s) in HARMMAP_CONFIG: {', '.join(sorted(unknown))}")
        return cls()._with(values)

    def _with(self, values: Mapping[str, Any]) -> Settings:
        typed: dict[str, Any] = {}
        for f in fields(self):
            if f.name not in values:
                continue
            raw = values[f.name]
            default = getattr(self, f.name)
            try:
                if isinstance(default, Path):
                    typed[f.name] = Path(raw).expanduser()
                elif isinstance(default, bool):
                    typed[f.name] = str(raw).lower() in ("1", "true", "yes", "on")
                elif isinstance(default, int):
                    typed[f.name] = int(raw)
                elif isinstance(default, float):
                    typed[f.name] = float(raw)
                else:
                    typed[f.name] = str(raw)
            except ValueError as e:
                raise SettingsError(f"HARMMAP_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}") from e
        settings = replace(self, **typed)
        settings.check()
        return settings

    def check(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(f"HARMMAP_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, not {self.environment!r}")
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("HARMMAP_DATABASE_URL must be a postgresql:// URL")
        if self.environment == "production" and not self.secret_key:
            raise SettingsError("HARMMAP_SECRET_KEY is required when HARMMAP_ENVIRONMENT=production")
        if not 1 <= self.pool_min_size <= self.pool_max_size:
            raise SettingsError("need 1 <= HARMMAP_POOL_MIN_SIZE <= HARMMAP_POOL_MAX_SIZE")
        try:
            self.weights
        except WeightsError as e:
            raise SettingsError(str(e)) from e
        try:
            baseline = periods.parse(self.target_baseline)
        except periods.PeriodError as e:
            raise SettingsError(f"HARMMAP_TARGET_BASELINE: {e}") from e
        if baseline.kind != "fy":
            raise SettingsError(f"HARMMAP_TARGET_BASELINE must be a financial year like FY2023/24, not {self.target_baseline!r}")
        if self.cookie_secure not in ("auto", "true", "false"):
            raise SettingsError(f"HARMMAP_COOKIE_SECURE must be auto, true or false, not {self.cookie_secure!r}")
        if self.log_format not in ("auto", "json", "text"):
            raise SettingsError(f"HARMMAP_LOG_FORMAT must be auto, json or text, not {self.log_format!r}")
        if problem := _rate_limit_problem(self.rate_limit, self.rate_limit_storage):
            raise SettingsError(problem)
        if not 0 < self.session_hours <= 24:
            raise SettingsError("HARMMAP_SESSION_HOURS must be more than 0 and at most 24")
        if problem := disclosure.check_settings(self.disclosure_min_count, self.disclosure_exact_role):
            raise SettingsError(problem)
        if not 99 <= self.hotspot_permutations <= 99_999:
            raise SettingsError("HARMMAP_HOTSPOT_PERMUTATIONS must be between 99 and 99999")
        if not 1.0 <= self.pas_design_effect <= 5.0:
            raise SettingsError("HARMMAP_PAS_DESIGN_EFFECT must be from 1 (simple random sampling) to 5")

    @property
    def weights(self) -> dict[str, float]:
        """Harm index weights by indicator slug (only those above 0)."""
        return parse_weights(self.index_weights)

    def disclosure_for(self, role: str | None) -> disclosure.Disclosure:
        """How figures leave for a request made with ``role`` (None: signed out, the most restricted)."""
        return disclosure.for_role(role, min_count=self.disclosure_min_count, exact_role=self.disclosure_exact_role)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure == "true" or (self.cookie_secure == "auto" and self.is_production)


def _rate_limit_problem(limit: str, storage: str) -> str | None:
    if limit.strip():
        from limits import parse_many

        try:
            parse_many(limit)
        except ValueError:
            return f"HARMMAP_RATE_LIMIT={limit!r} is not a limit like 600/minute or 20/second;600/minute"
    if not storage.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
        return f"HARMMAP_RATE_LIMIT_STORAGE must be memory:// or a redis:// URL, not {storage!r}"
    return None
