"""The WMS REST contract over HTTP (docs/wms-api.md): bearer token, JSON in and out, explicit timeouts, every
request through `http.call` (guard, transport errors, 429/5xx); 4xx error bodies are translated by
`mapper.error_for`, and a 2xx that is not JSON is transient (`http.json_body`). Returns parsed JSON."""
from __future__ import annotations

from typing import Any, Mapping

import requests

from retail_sync.connectors.http import CallGuard, call, error_json, excerpt, json_body
from retail_sync.connectors.wms.mapper import error_for

SYSTEM = "wms"
API_PREFIX = "/api/v1"


class WmsClient:
    def __init__(self, url: str, api_key: str, *, timeout: tuple[float, float], guard: CallGuard,
                 session: requests.Session | None = None) -> None:
        self._base = url.rstrip("/") + API_PREFIX
        self._timeout = timeout
        self._guard = guard
        self._session = session or requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"

    def get(self, path: str, operation: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", path, operation, params=params)

    def post(self, path: str, operation: str, body: Mapping[str, Any] | None = None) -> Any:
        return self._request("POST", path, operation, body=body)

    def _request(self, method: str, path: str, operation: str, *, params: Mapping[str, Any] | None = None,
                 body: Mapping[str, Any] | None = None) -> Any:
        url = self._base + path
        response = call(SYSTEM, operation, lambda: self._session.request(
            method, url, params=params, json=body, timeout=self._timeout), self._guard)
        if not 200 <= response.status_code < 300:
            raise error_for(operation, response.status_code, error_json(response), fallback=excerpt(response))
        return json_body(response, SYSTEM, operation)
