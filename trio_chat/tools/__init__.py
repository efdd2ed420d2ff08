"""Benchmark, load generator, soak and certificates: never imported by the server."""
