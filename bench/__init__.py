"""Benchmarks: one module per benchmark, each a command (Makefile `bench*`), and `common`."""
