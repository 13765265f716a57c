"""`openai` backend: chat completions with the image against any OpenAI-compatible endpoint (vLLM).

Structured output is requested with `response_format={"type": "json_schema", ...}`, which vLLM's
OpenAI-compatible server honours (guided decoding); the answer is still parsed forgivingly.
"""

from __future__ import annotations

import base64

import openai
from openai import AsyncOpenAI

from roadwatch.errors import BackendError
from schemas import EscalationRequest
from services.vlm_tier.parsing import ANSWER_SCHEMA, Answer, Unparseable, parse_answer
from services.vlm_tier.prompts import build_messages


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        prompt_version: str,
        timeout_s: float,
        max_tokens: int = 200,
        send_uri: bool = False,
    ) -> None:
        self.model, self.prompt_version = model, prompt_version
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
        self._max_tokens, self._send_uri = max_tokens, send_uri

    async def warm_up(self) -> None:
        """One tiny request so the server has the model loaded before we consume."""
        try:
            await self._client.models.list()
        except openai.OpenAIError as exc:
            raise BackendError(f"warm-up failed: {exc}", transient=True) from exc

    async def ask(self, req: EscalationRequest, image: bytes, content_type: str) -> Answer | Unparseable:
        url = (
            req.image_uri
            if self._send_uri and req.image_uri
            else (f"data:{content_type};base64,{base64.b64encode(image).decode()}")
        )
        try:
            resp = await self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=build_messages(self.prompt_version, req, url),
                temperature=0.0,
                max_tokens=self._max_tokens,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "roadwork_answer", "schema": ANSWER_SCHEMA, "strict": True},
                },
            )
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}", transient=True) from exc
        except openai.APIStatusError as exc:
            transient = exc.status_code >= 500 or exc.status_code == 429
            raise BackendError(f"HTTP {exc.status_code}: {exc.message}", transient=transient) from exc
        if not resp.choices:
            return Unparseable("no_choices", "")
        return parse_answer(resp.choices[0].message.content)

    async def close(self) -> None:
        await self._client.close()
