"""magma: the OpenFlow 1.3 controller of StratoV (paper section IV, Commit stage).

Keeps every switch's flow tables equal to the desired state computed by crater,
discovers the topology, reports network events.
"""
