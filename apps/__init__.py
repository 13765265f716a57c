"""The entry points, on top of the library and the services: the `roadwatch` CLI, the benchmarks,
evaluation, the process plan of the embedded stack and the OpenAI-compatible test server. Only they compose
services; nothing below imports them."""
