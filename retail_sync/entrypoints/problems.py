"""RFC 9457 problem details (`application/problem+json`) for every error the HTTP entry points return."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

PROBLEM_TYPES = "https://retail-sync.dev/problems/"


class ApiProblem(Exception):
    """An HTTP error raised from anywhere under a route, answered as a problem by `api_problem_handler`
    (installed by `entrypoints.api.install_problem_handlers`)."""

    def __init__(self, status: int, title: str, detail: str, *, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers, self.extra = status, title, detail, headers, extra


def problem(status: int, title: str, detail: str, *, headers: dict | None = None,
            extra: dict | None = None) -> Response:
    """`extra` adds members of the problem type (RFC 9457 §3.2), e.g. `errors` or the `ref` concerned."""
    body = {
        "type": PROBLEM_TYPES + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        **(extra or {}),
    }
    return Response(json.dumps(body, default=str), status_code=status, media_type="application/problem+json",
                    headers=headers)


async def api_problem_handler(request: Request, exc: ApiProblem) -> Response:
    return problem(exc.status, exc.title, exc.detail, headers=exc.headers, extra=exc.extra)

