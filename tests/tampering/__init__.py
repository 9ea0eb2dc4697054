"""Submissions that forge their grade or read the hidden checks, for tests/test_tampering.py."""
