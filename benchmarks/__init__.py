"""Speed and memory benchmarks. Each ``bench_*.py`` prints its numbers; none asserts a time."""
