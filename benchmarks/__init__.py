"""Benchmarks of the course kit (run as modules: python -m benchmarks.<name>)."""
