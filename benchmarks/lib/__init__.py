"""Building blocks of benchmarks/quake_bench.py: test bed, DUTs, report."""
