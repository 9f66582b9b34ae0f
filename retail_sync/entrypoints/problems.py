"""RFC 9457 problem details (`application/problem+json`) for every error the HTTP entry points return."""
from __future__ import annotations

import json

from starlette.responses import Response

PROBLEM_TYPES = "https://retail-sync.dev/problems/"


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
