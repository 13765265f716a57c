"""VLM tier backends: `openai` (any OpenAI-compatible server, vLLM in production) and `local` (CPU)."""
