"""Benchmarks: one script per headline figure (`make bench`); results go to BENCHMARKS.md."""

import luna_iems  # noqa: F401 - first: caps the numeric thread pools before NumPy loads
