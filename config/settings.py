"""The one place that reads the environment (and `.env`) and turns it into a frozen, typed `Settings`.

pydantic-settings does the reading (it uses python-dotenv for `.env`), the coercion and the secret masking
(`SecretStr` prints as `**********` in `repr`, logs and tracebacks). Nothing else in the project may look at
`os.environ`: processes call `get_settings()`, tests build `Settings(...)` or set the environment of the
subprocess they start.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development defaults that must never reach production: a production start that still carries one of
# these (or nothing) is refused with the variable's name.
DEV_SECRETS = {
    "WOO_WEBHOOK_SECRET": "dev-woo-webhook-secret",
    "WOO_CONSUMER_KEY": "ck_dev",
    "WOO_CONSUMER_SECRET": "cs_dev",
    "ERP_PASSWORD": "admin",
    "WMS_API_KEY": "dev-wms-key",
    "WMS_WEBHOOK_SECRET": "whsec_ZGV2LXdtcy13ZWJob29rLXNlY3JldC0xMjM0",
    "FLOWER_BASIC_AUTH": "admin:admin",
    "API_KEYS": "dev-admin:dev-admin-key:admin",
}

ROLES = ("read", "write", "admin")

CommaList = Annotated[tuple[str, ...], NoDecode]


@dataclass(frozen=True)
class ApiKey:
    name: str
    key: SecretStr
    role: Literal["read", "write", "admin"]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def parse_api_keys(raw: str) -> tuple[ApiKey, ...]:
    """`name:key:role,...` → ApiKey tuples. The key may itself contain colons."""
    keys = []
    for entry in _split_commas(raw):
        parts = entry.split(":")
        if len(parts) < 3 or not parts[0] or parts[-1] not in ROLES or not ":".join(parts[1:-1]):
            raise ValueError(f"API_KEYS entry must be name:key:role with role in {ROLES}, got {parts[0]!r}:…")
        keys.append(ApiKey(name=parts[0], key=SecretStr(":".join(parts[1:-1])), role=parts[-1]))
    return tuple(keys)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    retail_sync_env: Literal["development", "production"] = "development"
    retail_sync_home: Path = Path("./var")
    database_url: str = ""  # empty: a SQLite file under RETAIL_SYNC_HOME
    redis_url: str = "redis://127.0.0.1:6379/0"
    engine_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"

    woo_url: str = "http://127.0.0.1:8081"
    woo_consumer_key: SecretStr = SecretStr(DEV_SECRETS["WOO_CONSUMER_KEY"])
    woo_consumer_secret: SecretStr = SecretStr(DEV_SECRETS["WOO_CONSUMER_SECRET"])
    woo_webhook_secret: SecretStr = SecretStr(DEV_SECRETS["WOO_WEBHOOK_SECRET"])
    woo_webhook_secret_previous: SecretStr | None = None

    erp_url: str = "http://127.0.0.1:8069"
    erp_db: str = "retail"
    erp_user: str = "admin"
    erp_password: SecretStr = SecretStr(DEV_SECRETS["ERP_PASSWORD"])

    wms_url: str = "http://127.0.0.1:8083"
    wms_api_key: SecretStr = SecretStr(DEV_SECRETS["WMS_API_KEY"])
    wms_webhook_secret: SecretStr = SecretStr(DEV_SECRETS["WMS_WEBHOOK_SECRET"])

    api_keys: Annotated[tuple[ApiKey, ...], NoDecode] = parse_api_keys(DEV_SECRETS["API_KEYS"])
    flower_basic_auth: SecretStr = SecretStr(DEV_SECRETS["FLOWER_BASIC_AUTH"])
    outbound_allowed_hosts: CommaList = ("127.0.0.1", "localhost")

    site_priority: CommaList = ()
    allow_split_shipments: bool = True
    capture_on_hold: bool = False
    safety_stock_default: int = Field(0, ge=0)
    return_window_days: int = Field(30, ge=0)
    non_returnable_skus: CommaList = ()
    credit_damaged_returns: bool = False
    supported_currencies: CommaList = ("EUR",)
    saga_step_timeout_s: float = Field(300.0, gt=0)  # a saga step silent this long is resumed by the sweeper

    # Calling other systems: explicit timeouts (connect, read), a shared rate limit and a breaker per system.
    woo_timeout_s: float = Field(15.0, gt=0)
    erp_timeout_s: float = Field(20.0, gt=0)
    wms_timeout_s: float = Field(15.0, gt=0)
    connect_timeout_s: float = Field(3.05, gt=0)
    woo_rate_limit_per_s: float = Field(25.0, gt=0)
    erp_rate_limit_per_s: float = Field(20.0, gt=0)
    wms_rate_limit_per_s: float = Field(50.0, gt=0)
    breaker_fail_max: int = Field(5, ge=1)  # consecutive transient failures that open a system's breaker
    breaker_reset_s: float = Field(30.0, gt=0)  # how long it stays open before one trial call

    # Beat intervals (seconds).
    inbox_sweep_interval_s: float = Field(60.0, gt=0)
    saga_sweep_interval_s: float = Field(120.0, gt=0)
    order_backfill_interval_s: float = Field(300.0, gt=0)
    stock_reconcile_interval_s: float = Field(300.0, gt=0)
    webhook_watchdog_interval_s: float = Field(300.0, gt=0)
    catalog_sync_interval_s: float = Field(3600.0, gt=0)

    # Intake and task reliability knobs.
    webhook_max_body_bytes: int = Field(1024 * 1024, gt=0)
    visibility_timeout_s: int = Field(3600, ge=10)
    task_time_limit_s: int = Field(600, ge=5)
    task_max_retries: int = Field(8, ge=0)
    task_max_redeliveries: int = Field(3, ge=1)
    inbox_max_attempts: int = Field(10, ge=1)

    @field_validator(
        "outbound_allowed_hosts", "site_priority", "non_returnable_skus", "supported_currencies", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _api_keys(cls, value: object) -> object:
        return parse_api_keys(value) if isinstance(value, str) else value

    @field_validator("retail_sync_home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        # Resolved once, so every process started from the same settings agrees on the same files.
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _derive_and_check(self) -> "Settings":
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.retail_sync_home / 'retail-sync.db'}")
        if self.task_time_limit_s >= self.visibility_timeout_s:
            raise ValueError("TASK_TIME_LIMIT_S must stay below VISIBILITY_TIMEOUT_S (else Redis redelivers running tasks)")
        if self.retail_sync_env == "production":
            self._refuse_development_secrets()
        return self

    def _refuse_development_secrets(self) -> None:
        for variable, dev_value in DEV_SECRETS.items():
            value = getattr(self, variable.lower())
            if variable == "API_KEYS":
                current = ",".join(f"{k.name}:{k.key.get_secret_value()}:{k.role}" for k in value)
            else:
                current = value.get_secret_value() if value is not None else ""
            if not current:
                raise ValueError(f"{variable} is required when RETAIL_SYNC_ENV=production")
            if current == dev_value:
                raise ValueError(f"{variable} still has its development default; set a real value for production")
        if not self.wms_webhook_secret.get_secret_value().startswith("whsec_"):
            raise ValueError("WMS_WEBHOOK_SECRET must be a Standard Webhooks secret starting with whsec_")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def webhook_secrets(self) -> tuple[bytes, ...]:
        """The current WooCommerce webhook secret, then the previous one while a rotation is under way."""
        secrets = [self.woo_webhook_secret]
        if self.woo_webhook_secret_previous is not None and self.woo_webhook_secret_previous.get_secret_value():
            secrets.append(self.woo_webhook_secret_previous)
        return tuple(s.get_secret_value().encode("utf-8") for s in secrets)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
