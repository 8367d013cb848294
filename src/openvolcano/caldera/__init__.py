"""Caldera, the data plane of OpenVolcano (paper section V).

Runs on every edge server: quake, the user-space OpenFlow 1.3 switch, and geyser,
the monitoring and Green Abstraction Layer agent. Never imports StratoV.
"""
