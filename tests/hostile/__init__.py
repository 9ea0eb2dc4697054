"""Broken and malicious submissions for tests/test_hostile.py and benchmarks/sandbox.py."""
