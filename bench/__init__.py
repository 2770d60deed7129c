"""Benchmarks: scripts that print their figures and how they measured them.

Run from the repository root as ``python -m bench.<name>``."""
