"""Benchmarks: named, versioned sources of samples with their prompt format and metrics."""
