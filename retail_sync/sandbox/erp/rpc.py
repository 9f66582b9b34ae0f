"""Odoo's external API services (`common`, `object`) and the two wire protocols that carry them.

`dispatch(service, method, params)` mirrors `odoo.http.dispatch_rpc`: an unknown service is a KeyError, an
unknown `common` method `Exception("Method not found: ...")`, an unknown `object` method a NameError, a private
method an AccessError, an unknown model a UserError, each reported exactly as Odoo reports it. A wrong password
or uid is AccessDenied (`authenticate`/`login` answer False instead); a database name that does not exist fails
the way PostgreSQL refuses it under Odoo (`psycopg2.OperationalError`). Each `object` call runs in one
transaction; its create attempts go to the ledger once the outcome is known.
"""
from __future__ import annotations

import functools
import json
import re
import xmlrpc.client
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.common.faults import CallInfo
from retail_sync.sandbox.erp.errors import AccessDenied, AccessError, OperationalError, UserError, jsonrpc_error, \
    xmlrpc_fault

if TYPE_CHECKING:
    from retail_sync.sandbox.erp.app import ErpSandbox

ADMIN_UID = 2  # the administrator's uid in every Odoo database
VERSION = {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""], "server_serie": "17.0",
           "protocol_version": 1}
_PRIVATE = re.compile(r"^(_.*|init)$")
_CONTROL_CHARACTERS = dict.fromkeys(set(range(32)) - {9, 10, 13})


# services ---------------------------------------------------------------------------------------------------
def dispatch(sandbox: "ErpSandbox", service: str, method: str, params: Any) -> Any:
    handler = {"common": _common, "object": _object}[service]
    return handler(sandbox, method, params)


def _common(sandbox: "ErpSandbox", method: str, params: Any) -> Any:
    functions = {"version": exp_version, "login": exp_login, "authenticate": exp_authenticate}
    if method not in functions:
        raise Exception(f"Method not found: {method}")  # noqa: TRY002 - Odoo raises a bare Exception here
    return functools.partial(functions[method], sandbox)(*params)


def exp_version(sandbox: "ErpSandbox") -> dict[str, Any]:
    return VERSION


def exp_login(sandbox: "ErpSandbox", db: str, login: str, password: str) -> int | bool:
    return exp_authenticate(sandbox, db, login, password, None)


def exp_authenticate(sandbox: "ErpSandbox", db: str, login: str, password: str, user_agent_env: Any) -> int | bool:
    _check_database(sandbox, db)
    options = sandbox.options
    return ADMIN_UID if login == options.erp_user and password == options.erp_password else False


def _check_database(sandbox: "ErpSandbox", db: Any) -> None:
    if db != sandbox.options.erp_db:
        raise OperationalError(f'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
                               f'FATAL:  database "{db}" does not exist\n')


def _object(sandbox: "ErpSandbox", method: str, params: Any) -> Any:
    db, uid, password = params[0], int(params[1]), params[2]
    _check_database(sandbox, db)
    if uid != ADMIN_UID or password != sandbox.options.erp_password:
        raise AccessDenied()
    if method == "execute":
        return execute(sandbox, db, uid, *params[3:])
    if method == "execute_kw":
        return execute_kw(sandbox, db, uid, *params[3:])
    raise NameError(f"Method not available {method}")


def execute_kw(sandbox: "ErpSandbox", db: str, uid: int, obj: str, method: str, args: Any, kw: Any = None) -> Any:
    return execute(sandbox, db, uid, obj, method, *args, **(kw or {}))


def execute(sandbox: "ErpSandbox", db: str, uid: int, obj: str, method: str, *args: Any, **kw: Any) -> Any:
    if _PRIVATE.match(method):
        raise AccessError(f"Private methods (such as {method}) cannot be called remotely.")
    env = sandbox.env(uid)
    model = env.get(obj)
    if model is None:
        raise UserError(f"Object {obj} doesn't exist")
    try:
        with sandbox.db.tx():
            result = model.call(method, list(args), kw)
    except BaseException:
        for attempt in env.creates:
            sandbox.ledger.record_create(attempt.kind, attempt.key, "rejected")
        raise
    for attempt in env.creates:
        sandbox.ledger.record_create(attempt.kind, attempt.key, "created", attempt.record_id)
    return result


# JSON-RPC ---------------------------------------------------------------------------------------------------
JSON_TYPES = ("application/json", "application/json-rpc")


class RPC:
    """Odoo's controller signature, so a call missing `service`, `method` or `args` fails with Odoo's TypeError."""

    def __init__(self, sandbox: "ErpSandbox") -> None:
        self.sandbox = sandbox

    def jsonrpc(self, service: str, method: str, args: Any) -> Any:
        return dispatch(self.sandbox, service, method, args)


def handle_jsonrpc(sandbox: "ErpSandbox", content_type: str, body: bytes) -> tuple[int, bytes, str]:
    """(HTTP status, body, content type) for a POST to /jsonrpc."""
    if content_type.split(";")[0].strip().lower() not in JSON_TYPES:
        return 400, _bad_request("Request inferred type is compatible with ['http'] but '/jsonrpc' is type='json'."
                                 "\n\nPlease verify the Content-Type request header and try again."), "text/html"
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, b"Invalid JSON data", "text/html; charset=utf-8"
    if not isinstance(payload, dict):
        return 400, b"Invalid JSON-RPC data", "text/html; charset=utf-8"
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": payload.get("id")}
    try:
        params = payload.get("params", {})
        endpoint = RPC(sandbox).jsonrpc
        result = endpoint(**{k: v for k, v in dict(params).items() if k in ("service", "method", "args")})
    except Exception as exc:  # noqa: BLE001 - every failure is reported in Odoo's error shape
        answer["error"] = jsonrpc_error(exc)
    else:
        if result is not None:  # Odoo leaves `result` out when a method returns None
            answer["result"] = result
    return 200, json.dumps(answer, ensure_ascii=False).encode(), "application/json; charset=utf-8"


def _bad_request(description: str) -> bytes:
    return ("<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n"
            f"<p>{description}</p>\n").encode()


# XML-RPC ----------------------------------------------------------------------------------------------------
class _Marshaller(xmlrpc.client.Marshaller):
    """Like Odoo's: strings lose the control characters XML 1.0 forbids; None cannot be sent."""

    dispatch = dict(xmlrpc.client.Marshaller.dispatch)

    def dump_unicode(self, value: str, write: Any) -> None:
        super().dump_unicode(value.translate(_CONTROL_CHARACTERS), write)

    dispatch[str] = dump_unicode


def _dumps(value: tuple | xmlrpc.client.Fault) -> bytes:
    response = _Marshaller(allow_none=False).dumps(value)
    return f'<?xml version="1.0"?>\n<methodResponse>\n{response}</methodResponse>\n'.encode()


def handle_xmlrpc(sandbox: "ErpSandbox", service: str, body: bytes, *, legacy: bool) -> bytes:
    """The XML body answering a POST to /xmlrpc/2/<service> (or the legacy /xmlrpc/<service>); always HTTP 200."""
    try:
        params, method = xmlrpc.client.loads(body, use_datetime=True)
        return _dumps((dispatch(sandbox, service, method, params),))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a fault, as in Odoo
        return _dumps(xmlrpc_fault(exc, legacy=legacy))


# fault-gate support -----------------------------------------------------------------------------------------
def describe(path: str, body: bytes) -> CallInfo:
    """The model and ORM method of an `object` call (else the service method), for fault `match` and the ledger."""
    try:
        if path == "/jsonrpc":
            params = json.loads(body).get("params") or {}
            service, method, args = params.get("service"), params.get("method"), params.get("args") or []
        elif path.startswith("/xmlrpc/"):
            args, method = xmlrpc.client.loads(body)
            service = path.rstrip("/").rsplit("/", 1)[-1]
        else:
            return CallInfo()
    except Exception:  # noqa: BLE001 - a body the handler will refuse still passes the gate
        return CallInfo()
    if service == "object" and method in ("execute", "execute_kw") and len(args) >= 5:
        model, orm_method = args[3], args[4]
        if isinstance(model, str) and isinstance(orm_method, str):
            return CallInfo(model=model, method=orm_method)
    return CallInfo(method=method if isinstance(method, str) else None)
