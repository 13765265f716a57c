"""The backend interface: answer one escalated image, or raise BackendError (transient or not)."""

from __future__ import annotations

from typing import Protocol

from schemas import EscalationRequest
from services.vlm_tier.parsing import Answer, Unparseable


class Backend(Protocol):
    name: str
    model: str
    prompt_version: str

    async def warm_up(self) -> None: ...

    async def ask(self, req: EscalationRequest, image: bytes, content_type: str) -> Answer | Unparseable: ...

    async def close(self) -> None: ...
