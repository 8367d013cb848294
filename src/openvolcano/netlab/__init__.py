"""Emulated edge network: describe a topology as data, build it in Linux network namespaces.

Hosts, switches (named port sets) and links become namespaces and veth pairs
created through pyroute2; every object created is recorded and exactly those
are removed on exit, on failure or on Ctrl-C. Used by integration tests,
benchmarks and the demo.
"""
