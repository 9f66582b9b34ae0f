"""Odoo's external API over JSON-RPC (`POST {ERP_URL}/jsonrpc`): `common.authenticate` once, then
`object.execute_kw`. Every request goes through `http.call` (guard, timeouts, transport errors, 429/5xx); what
comes back is either Odoo's JSON-RPC answer or something else in front of Odoo (a proxy's HTML page), and Odoo's
errors are translated by `mapper.error_for`. The same client works against a real Odoo 17 and the sandbox.
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, Mapping, Sequence

import requests

from retail_sync.connectors.erp.mapper import error_for, is_access_denied
from retail_sync.connectors.http import CallGuard, call, excerpt, json_body
from retail_sync.errors import PermanentError, TransientError

logger = logging.getLogger(__name__)

SYSTEM = "erp"


class OdooClient:
    """One Odoo database, one login. Holds a keep-alive session and the uid (authenticated on first use)."""

    def __init__(self, url: str, db: str, login: str, password: str, *, timeout: tuple[float, float],
                 guard: CallGuard, session: requests.Session | None = None) -> None:
        self._endpoint = url.rstrip("/") + "/jsonrpc"
        self._db, self._login, self._password = db, login, password
        self._timeout = timeout
        self._guard = guard
        self._session = session or requests.Session()
        self._uid: int | None = None
        self._request_ids = itertools.count(1)

    def authenticate(self) -> int:
        """The uid of our login, asked once and kept; Odoo answers `false` for a wrong login or password."""
        if self._uid is None:
            answer = self._post("common", "authenticate", [self._db, self._login, self._password, {}],
                                "authenticate")
            uid = self._result("authenticate", answer)
            if not isinstance(uid, int) or isinstance(uid, bool):
                raise PermanentError(f"erp authenticate: login {self._login!r} refused by database {self._db!r}"
                                     " (check ERP_USER and ERP_PASSWORD)")
            self._uid = uid
        return self._uid

    def execute_kw(self, model: str, method: str, args: Sequence[Any],
                   kwargs: Mapping[str, Any] | None = None) -> Any:
        """`model.method(*args, **kwargs)` on the server; None when Odoo's answer has no `result` member."""
        operation = f"{model}.{method}"
        answer = self._execute(model, method, args, kwargs, operation)
        if "error" in answer and is_access_denied(answer["error"]):
            # The password or user changed since we logged in: log in again, once (nothing ran on a denial).
            logger.warning("erp access denied on %s; authenticating again", operation,
                           extra={"system": SYSTEM, "kind": model})
            self._uid = None
            answer = self._execute(model, method, args, kwargs, operation)
        return self._result(operation, answer)

    def _execute(self, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None,
                 operation: str) -> dict[str, Any]:
        uid = self.authenticate()
        return self._post("object", "execute_kw",
                          [self._db, uid, self._password, model, method, list(args), dict(kwargs or {})], operation)

    def _post(self, service: str, method: str, args: list[Any], operation: str) -> dict[str, Any]:
        """Odoo's JSON-RPC answer (`result` or `error`); anything else is not Odoo speaking."""
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(self._request_ids),
                   "params": {"service": service, "method": method, "args": args}}
        response = call(SYSTEM, operation,
                        lambda: self._session.post(self._endpoint, json=payload, timeout=self._timeout), self._guard)
        status = response.status_code
        if not 200 <= status < 300:
            # 4xx before Odoo (a wrong ERP_URL, a refused content type): retrying cannot help
            raise PermanentError(f"erp {operation}: HTTP {status} {excerpt(response)}")
        answer = json_body(response, SYSTEM, operation)
        if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0":
            # JSON, but not Odoo's (something in front of it answering for it): the server is not there
            raise TransientError(f"erp {operation}: HTTP {status} answer is not JSON-RPC: {excerpt(response)}")
        return answer

    @staticmethod
    def _result(operation: str, answer: dict[str, Any]) -> Any:
        if "error" in answer:
            error = answer["error"]
            raise error_for(operation, error if isinstance(error, dict) else {"message": str(error)})
        return answer.get("result")  # Odoo leaves `result` out when the method returned None
