"""The benchmark harness: `make bench` (full) and `make bench-smoke` (seconds, for CI).
See bench/README.md for what it measures and how to read the results."""
