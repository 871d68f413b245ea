"""Benchmarks (not tests): run each as ``python -m omniroute.bench.<name>``."""
