"""geyser: per-server monitoring and Green Abstraction Layer (GAL) agent (paper section V).

Reports energy state, CPU, memory, per process, to StratoV (cinder, crater)
and commits power states (ETSI ES 203 237 two-phase provisioning/commit).
"""
