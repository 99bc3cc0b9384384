"""Reliability tests: real worker and beat processes, a real Redis, and the sandbox's faults."""
