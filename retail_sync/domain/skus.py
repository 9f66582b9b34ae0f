"""The SKU is the join key of the three systems (DESIGN §1): normalised once, never guessed."""
from __future__ import annotations

import unicodedata


def normalise_sku(raw: str | None) -> str:
    """Surrounding blanks dropped, Unicode composed (NFC), case kept: `Café` typed with a combining accent is the
    same SKU, `abc` and `ABC` are two. An unknown SKU is an exception for a person, never a fuzzy match."""
    return unicodedata.normalize("NFC", (raw or "").strip())
