"""Herald benchmarks: `make bench` runs bench.run and writes bench/results.json."""
