"""quake: the user-space OpenFlow 1.3 software switch of every Caldera server (paper section VI).

A dispatcher hands packets from physical ports (AF_PACKET) and logical ports
(TAP/veth to virtual images) to worker processes; each worker matches them
against a private replica of the flow tables (:mod:`.pipeline`, pure) and
forwards. The agent speaks OpenFlow 1.3 to magma or any controller through
:mod:`openvolcano.ofp` (the paper's ofp_lib).
"""
