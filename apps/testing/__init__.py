"""Real (not mocked) stand-ins used by the tests and benchmarks: a small OpenAI-compatible HTTP server."""
