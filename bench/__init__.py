"""Benchmark against the seed's strategies: `make bench` (see bench/README.md)."""
