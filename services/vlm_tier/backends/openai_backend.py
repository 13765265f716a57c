"""`openai` backend: chat completions with the image against any OpenAI-compatible endpoint (vLLM).

Talks the OpenAI chat-completions wire format over a small pool of kept-alive HTTP/1.1 connections
(`backends/http.py`): the official `openai` client spends ~6 ms of CPU per call building and validating its
models, and httpx's pool does work per call that grows with the connections pooled (see `http.py`), which
kept 32 calls in flight at 0.69 of their ideal rate and 128 at 0.07. Structured output is requested with
`response_format={"type": "json_schema", ...}`, which vLLM's OpenAI-compatible server honours with guided
decoding; the answer is still parsed forgivingly.
"""

from __future__ import annotations

import base64
from typing import Any

from roadwatch.errors import BackendError
from schemas import EscalationRequest
from services.vlm_tier.backends.http import Client
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
        max_in_flight: int = 64,
        max_tokens: int = 200,
        send_uri: bool = False,
    ) -> None:
        self.model, self.prompt_version = model, prompt_version
        self._client = Client(
            base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout_s=timeout_s,
            max_connections=max_in_flight,
        )
        self._max_tokens, self._send_uri = max_tokens, send_uri

    async def warm_up(self) -> None:
        """List the models, so the server is known to be up and serving `model` before we consume."""
        body = await self._call("GET", "models")
        served = {m.get("id") for m in body.get("data", []) if isinstance(m, dict)}
        if self.model not in served:
            raise BackendError(f"server serves {sorted(map(str, served))}, not {self.model}", transient=False)

    async def ask(self, req: EscalationRequest, image: bytes, content_type: str) -> Answer | Unparseable:
        if self._send_uri and req.image_uri:
            url = req.image_uri
        else:  # the inline base64 was checked against the image's hash already: no need to encode it again
            b64 = req.image_b64 if req.image_b64 is not None else base64.b64encode(image).decode()
            url = f"data:{content_type};base64,{b64}"
        body = await self._call(
            "POST",
            "chat/completions",
            {
                "model": self.model,
                "messages": build_messages(self.prompt_version, req, url),
                "temperature": 0.0,
                "max_tokens": self._max_tokens,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "roadwork_answer", "schema": ANSWER_SCHEMA, "strict": True},
                },
            },
        )
        choices = body.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return Unparseable("no_choices", str(body)[:200])
        return parse_answer((choices[0].get("message") or {}).get("content"))

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One HTTP call; timeouts, connection errors, 429 and 5xx are transient, other 4xx are not."""
        try:
            resp = await self._client.request(method, path, payload)
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            raise BackendError(f"timeout: {type(exc).__name__}", transient=True) from exc
        except OSError as exc:
            raise BackendError(f"connection error: {type(exc).__name__}: {exc}", transient=True) from exc
        if resp.status >= 400:
            transient = resp.status >= 500 or resp.status == 429
            raise BackendError(f"HTTP {resp.status}: {resp.text[:200]}", transient=transient)
        try:
            data = resp.json()
        except ValueError as exc:
            raise BackendError(f"response is not JSON: {resp.text[:200]}", transient=True) from exc
        return data if isinstance(data, dict) else {}

    async def close(self) -> None:
        await self._client.close()
