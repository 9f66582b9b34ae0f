from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import DEV_SECRETS, Settings


def production(**overrides):
    values = {
        "retail_sync_env": "production",
        "woo_webhook_secret": "w" * 32, "woo_consumer_key": "ck_live", "woo_consumer_secret": "cs_live",
        "erp_password": "erp-pass", "wms_api_key": "wms-key", "wms_webhook_secret": "whsec_bGl2ZS1zZWNyZXQ=",
        "flower_basic_auth": "ops:long-password", "api_keys": "ops:k3y-live:admin",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def test_production_starts_with_real_secrets():
    assert production().retail_sync_env == "production"


@pytest.mark.parametrize("variable", sorted(DEV_SECRETS))
def test_production_refuses_a_development_default_naming_the_variable(variable):
    with pytest.raises(ValidationError, match=variable):
        production(**{variable.lower(): DEV_SECRETS[variable]})


def test_production_refuses_a_missing_secret():
    with pytest.raises(ValidationError, match="WOO_WEBHOOK_SECRET is required"):
        production(woo_webhook_secret="")


def test_secrets_are_masked_in_repr():
    text = repr(production())
    assert "w" * 32 not in text and "erp-pass" not in text and "k3y-live" not in text


def test_home_is_absolute_and_holds_the_default_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None, retail_sync_home=Path("var"))
    assert settings.retail_sync_home == (tmp_path / "var").resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'retail-sync.db'}"


def test_environment_and_dotenv_are_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("SAFETY_STOCK_DEFAULT=3\nSITE_PRIORITY=berlin, paris\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAFETY_STOCK_DEFAULT", "5")  # the environment wins over .env
    settings = Settings()
    assert settings.safety_stock_default == 5
    assert settings.site_priority == ("berlin", "paris")


def test_api_keys_are_parsed_and_bad_ones_named():
    keys = Settings(_env_file=None, api_keys="pos:a:b:c:write,ops:z:read").api_keys
    assert [(k.name, k.key.get_secret_value(), k.role) for k in keys] == [("pos", "a:b:c", "write"), ("ops", "z", "read")]
    with pytest.raises(ValidationError, match="name:key:role"):
        Settings(_env_file=None, api_keys="pos:key:superuser")


def test_time_limit_must_stay_below_visibility_timeout():
    with pytest.raises(ValidationError, match="VISIBILITY_TIMEOUT_S"):
        Settings(_env_file=None, visibility_timeout_s=60, task_time_limit_s=60)
