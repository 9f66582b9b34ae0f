"""What `retail-sync sandbox` and `retail-sync sandbox seed` do, kept out of the click module."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import requests
from pydantic import ValidationError

from config.settings import Settings
from retail_sync.sandbox.common.base import SandboxOptions
from retail_sync.sandbox.common.catalog import Catalog


def options_from(settings: Settings, *, data_dir: str | None, engine_url: str | None, **flags: Any) -> SandboxOptions:
    """The sandboxes take the engine's own credentials, so both agree out of the box."""
    return SandboxOptions(
        data_dir=Path(data_dir).resolve() if data_dir else settings.retail_sync_home / "sandbox",
        engine_url=engine_url or settings.engine_url,
        woo_consumer_key=settings.woo_consumer_key.get_secret_value(),
        woo_consumer_secret=settings.woo_consumer_secret.get_secret_value(),
        erp_db=settings.erp_db,
        erp_user=settings.erp_user,
        erp_password=settings.erp_password.get_secret_value(),
        wms_api_key=settings.wms_api_key.get_secret_value(),
        wms_webhook_secret=settings.wms_webhook_secret.get_secret_value(),
        **flags,
    )


def load_catalog(path: str | Path) -> Catalog:
    try:
        return Catalog.model_validate_json(Path(path).read_bytes())
    except ValidationError as exc:
        raise ValueError(f"{path}: not a valid catalog: {exc}") from None


def serve(options: SandboxOptions, seed_file: str | None, announce: Callable[[str], None]) -> None:
    from retail_sync.sandbox import processes

    catalog = load_catalog(seed_file) if seed_file else None  # refused before anything starts
    processes.serve(options, catalog, announce)


def seed_remote(settings: Settings, catalog_file: str) -> dict[str, Any]:
    """POST the catalog to each sandbox's `/_sandbox/seed`; fails with the first system that refuses it."""
    body = load_catalog(catalog_file).model_dump(mode="json")
    results = {}
    for name, base in (("woocommerce", settings.woo_url), ("erp", settings.erp_url), ("wms", settings.wms_url)):
        url = base.rstrip("/") + "/_sandbox/seed"
        try:
            # The store may run with --tls and its self-signed certificate; this is a sandbox-only endpoint.
            response = requests.post(url, json=body, timeout=300, verify=False)  # noqa: S501
        except requests.RequestException as exc:
            raise RuntimeError(f"{name}: cannot reach {url}: {exc}") from None
        if response.status_code != 200:
            raise RuntimeError(f"{name}: {url} answered {response.status_code}: {response.text[:500]}")
        results[name] = response.json()
    return results
