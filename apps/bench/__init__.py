"""Benchmarks that measure roadwatch against a bare baseline side by side, in one run."""
