"""The governed order API (`/api/v1`, OpenAPI at /docs): orders from other channels enter the same saga as the
store's, and any order's state, timeline and cancellation are reachable by its business key.

Order of checks on a write: API key and role (401 / 403) → body size (413) → JSON (422) → schema, types and
totals (422, naming each field) → the flow. Every error is RFC 9457 `application/problem+json`
(`install_problem_handlers`). SQL runs in a worker thread (`asyncio.to_thread`), never on the event loop; a
database that is away is a 503.
"""
from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Annotated, Any, Callable, Sequence, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from retail_sync.entrypoints.api_auth import Caller, require_role
from retail_sync.entrypoints.api_models import CancelIn, OrderIn, parse_json
from retail_sync.entrypoints.problems import ApiProblem, api_problem_handler, problem
from retail_sync.entrypoints.receivers import read_limited_body
from retail_sync.errors import is_transient
from retail_sync.flows import cancellation, capture, order_view

logger = logging.getLogger(__name__)

API_MAX_BODY_BYTES = 512 * 1024  # 500 order lines take well under 200 KB
Model = TypeVar("Model", bound=BaseModel)
Ref = Annotated[str, Path(min_length=3, max_length=64, description="The business key, e.g. POS-9001")]

router = APIRouter(prefix="/api/v1", tags=["orders"])


def _inline_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema with its `$defs` inlined, so it can stand as a request body in OpenAPI."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


def _json_body(model: type[BaseModel], *, required: bool) -> dict:
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": _inline_schema(model)}}}}


PROBLEM = {"content": {"application/problem+json": {}}}


@router.post(
    "/orders", status_code=202, summary="Submit an order from another channel (POS, marketplace)",
    openapi_extra=_json_body(OrderIn, required=True),
    responses={200: {"description": "The same order was already accepted: its current state"},
               202: {"description": "Accepted; the saga runs. Location names the order"},
               401: PROBLEM, 403: PROBLEM, 409: PROBLEM, 413: PROBLEM, 415: PROBLEM, 422: PROBLEM, 503: PROBLEM},
)
async def submit_order(request: Request, caller: Caller = Depends(require_role("write"))) -> Response:
    services = request.app.state.services
    order = await _read_model(request, OrderIn, required=True)
    supported = services.settings.supported_currencies
    if order.currency not in supported:
        raise _unprocessable([{"field": "currency", "reason": f"not supported (supported: {', '.join(supported)})"}])
    result = await _in_thread(capture.accept_api_order, services, order.to_order(caller.name), order.body_hash())
    location = {"Location": f"/api/v1/orders/{result.ref}"}
    if result.outcome == "created":
        logger.info("API order accepted", extra={"subject": result.ref, "api_key_name": caller.name})
        return JSONResponse({"ref": result.ref, "status": "received"}, status_code=202, headers=location)
    if result.outcome == "same":
        return JSONResponse(await _in_thread(_describe, services, result.ref), status_code=200, headers=location)
    raise ApiProblem(409, "Order Conflict",
                     f"{result.ref} was already submitted with a different body; a changed order needs a new number",
                     extra={"ref": result.ref})


@router.get("/orders/{ref}", summary="An order's state and timeline",
            responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 503: PROBLEM})
async def get_order(ref: Ref, request: Request, caller: Caller = Depends(require_role("read"))) -> Response:
    state = await _in_thread(_describe, request.app.state.services, ref)
    if state is None:
        raise ApiProblem(404, "Order Not Found", f"there is no order {ref}", extra={"ref": ref})
    return JSONResponse(state)


@router.post(
    "/orders/{ref}/cancel", status_code=202, summary="Cancel an order (compensation in reverse order)",
    openapi_extra=_json_body(CancelIn, required=False),
    responses={202: {"description": "Cancelling, or already cancelled / cancelling"},
               401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM, 503: PROBLEM},
)
async def cancel_order(ref: Ref, request: Request, caller: Caller = Depends(require_role("write"))) -> Response:
    services = request.app.state.services
    body = await _read_model(request, CancelIn, required=False)
    reason = body.reason or "cancelled through the API"
    outcome = await _in_thread(cancellation.request_cancel, services, ref, reason, caller.name)
    if outcome == "unknown":
        raise ApiProblem(404, "Order Not Found", f"there is no order {ref}", extra={"ref": ref})
    if outcome == "too_late":
        raise ApiProblem(409, "Too Late To Cancel", f"{ref} has already shipped, in part or in full",
                         extra={"ref": ref})
    logger.info("API cancellation", extra={"subject": ref, "outcome": outcome, "api_key_name": caller.name})
    return JSONResponse({"ref": ref, "outcome": outcome}, status_code=202,
                        headers={"Location": f"/api/v1/orders/{ref}"})


def _describe(services, ref: str) -> dict | None:
    with services.engine.connect() as conn:
        return order_view.describe(conn, ref)


async def _in_thread(function: Callable, *args):
    try:
        return await asyncio.to_thread(function, *args)
    except Exception as exc:
        if is_transient(exc):
            logger.warning("API call failed transiently: %s", type(exc).__name__)
            raise ApiProblem(503, "Service Unavailable", "the state store could not be reached; try again",
                             headers={"Retry-After": "5"}) from exc
        raise


async def _read_model(request: Request, model: type[Model], *, required: bool) -> Model:
    raw = await read_limited_body(request, API_MAX_BODY_BYTES, "request")
    if not raw.strip():
        if required:
            raise _unprocessable([{"field": "body", "reason": "a JSON object is required"}])
        return model()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiProblem(415, "Unsupported Media Type", "send the body as application/json")
    try:
        data = parse_json(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _unprocessable([{"field": "body", "reason": f"malformed JSON: {_json_error(exc)}"}]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _unprocessable(validation_errors(exc.errors())) from None


def _json_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 (byte {exc.start})"
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def _unprocessable(errors: list[dict]) -> ApiProblem:
    fields = ", ".join(error["field"] for error in errors[:5]) + (", ..." if len(errors) > 5 else "")
    return ApiProblem(422, "Invalid Request", f"the request is not valid: {fields}", extra={"errors": errors})


def validation_errors(errors: Sequence[dict]) -> list[dict]:
    """Pydantic's errors as [{"field": "lines[1].quantity", "reason": ...}] (never echoing the input value)."""
    return [{"field": field_path(error["loc"]), "reason": error["msg"].removeprefix("Value error, ")}
            for error in errors]


def field_path(loc: Sequence[str | int]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "path", "query", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


# --- problem+json for every error, API or not ------------------------------------------------------------------

def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, api_problem_handler)
    app.add_exception_handler(RequestValidationError, _request_validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(Exception, _unexpected_problem)


async def _request_validation_problem(request: Request, exc: RequestValidationError) -> Response:
    return await api_problem_handler(request, _unprocessable(validation_errors(exc.errors())))


async def _http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(exc.status_code, title, detail, headers=exc.headers)


async def _unexpected_problem(request: Request, exc: Exception) -> Response:
    # Starlette logs the exception with its traceback after this answer; the client learns nothing internal.
    return problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged")
