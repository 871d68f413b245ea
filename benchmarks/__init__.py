"""Benchmarks (not tests): run each as ``python -m benchmarks.<name>``."""
