"""Odoo's exception types and how Odoo 17 puts them on the wire.

The classes claim the module `odoo.exceptions`, so the JSON-RPC `data.name` comes out exactly as Odoo's
`serialize_exception` builds it (`f"{module}.{name}"`), and Python's own errors (`TypeError`, `KeyError`...)
come out as `builtins.TypeError`, again as in Odoo. XML-RPC faults follow `xmlrpc_handle_exception_int`
(faultCode 1/2/3/4) for `/xmlrpc/2/*` and `xmlrpc_handle_exception_string` for the legacy `/xmlrpc/*`.
"""
from __future__ import annotations

import traceback
import xmlrpc.client
from typing import Any


class UserError(Exception):
    """A business rule refused the call (Odoo's generic client error)."""


class AccessDenied(UserError):
    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class AccessError(UserError):
    """The user may not perform the operation (e.g. calling a private method)."""


class MissingError(UserError):
    """A record the call needs does not exist (any more)."""


class ValidationError(UserError):
    """A constraint refused the values."""


class OperationalError(Exception):
    """psycopg2's error for a database that does not exist: Odoo lets it through when a call names a wrong db."""


for _cls in (UserError, AccessDenied, AccessError, MissingError, ValidationError):
    _cls.__module__ = "odoo.exceptions"
OperationalError.__module__ = "psycopg2"

RPC_FAULT_CODE_APPLICATION_ERROR = 1
RPC_FAULT_CODE_WARNING = 2
RPC_FAULT_CODE_ACCESS_DENIED = 3
RPC_FAULT_CODE_ACCESS_ERROR = 4


def missing_record(model: str, record_id: int, uid: int) -> MissingError:
    """What reading a field of a deleted record raises."""
    return MissingError(f"Record does not exist or has been deleted.\n(Record: {model}({record_id},), User: {uid})")


def missing_for_write(model: str, operation: str, ids: list[int], uid: int) -> MissingError:
    """What `check_access_rule` raises when a write or an action targets ids that are not in the database."""
    return MissingError(
        "One of the documents you are trying to access has been deleted, please try again after refreshing."
        f"\n\n(Document type: {model}, Operation: {operation}, Records: {ids[:6]}, User: {uid})"
    )


def qualified_name(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__name__}" if cls.__module__ else cls.__name__


def serialize(exc: BaseException) -> dict[str, Any]:
    """`odoo.http.serialize_exception` of Odoo 17 (call it inside the `except` block: `debug` is the traceback)."""
    return {
        "name": qualified_name(exc),
        "debug": traceback.format_exc(),
        "message": str(exc),
        "arguments": list(exc.args),
        "context": {},
    }


def jsonrpc_error(exc: BaseException) -> dict[str, Any]:
    """The `error` member of Odoo's JSON-RPC answer; the JSON-RPC code is always 200, whatever went wrong."""
    return {"code": 200, "message": "Odoo Server Error", "data": serialize(exc)}


def xmlrpc_fault(exc: BaseException, *, legacy: bool) -> xmlrpc.client.Fault:
    """The fault `/xmlrpc/2/*` (integer codes) or `/xmlrpc/*` (string codes) answers with."""
    if legacy:
        for cls, label in ((MissingError, "MissingError"), (AccessError, "AccessError")):
            if isinstance(exc, cls):
                return xmlrpc.client.Fault(f"warning -- {label}\n\n{exc}", "")
        if isinstance(exc, AccessDenied):
            return xmlrpc.client.Fault("AccessDenied", str(exc))
        if isinstance(exc, UserError):
            return xmlrpc.client.Fault(f"warning -- UserError\n\n{exc}", "")
        return xmlrpc.client.Fault(str(exc), traceback.format_exc())
    if isinstance(exc, AccessError):
        return xmlrpc.client.Fault(RPC_FAULT_CODE_ACCESS_ERROR, str(exc))
    if isinstance(exc, AccessDenied):
        return xmlrpc.client.Fault(RPC_FAULT_CODE_ACCESS_DENIED, str(exc))
    if isinstance(exc, UserError):
        return xmlrpc.client.Fault(RPC_FAULT_CODE_WARNING, str(exc))
    return xmlrpc.client.Fault(RPC_FAULT_CODE_APPLICATION_ERROR, traceback.format_exc())
