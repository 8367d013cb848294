"""The project's benchmarks (quake forwarding benchmark, bare forwarder baseline)."""
