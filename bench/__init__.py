"""Benchmarks run by `make bench` (not tests: they report figures against targets)."""
