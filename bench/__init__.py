"""Benchmarks of cityos: hot paths and the optimisers, each comparable run to run."""
