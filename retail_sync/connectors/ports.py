"""The ports flows depend on. Concrete implementations are built in `retail_sync.bootstrap` only."""
from __future__ import annotations

from typing import Protocol, Sequence


class TaskDispatcher(Protocol):
    """Publishes work for the workers by task name. Raising means nothing was sent (the SQL record stays due)."""

    def send(self, task_name: str, args: Sequence[object] = ()) -> None: ...
