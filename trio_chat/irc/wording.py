"""How the IRC door words a refusal that no numeric fits (sent as a NOTICE)."""

from __future__ import annotations

from trio_chat.core.refusals import Refused
from trio_chat.text.wording import refusal


def refusal_text(refused: Refused) -> str:
    """The service's refusal in a sentence (the text door's wording serves IRC users too)."""
    return refusal(refused)
