"""StratoV, the control plane of OpenVolcano (paper section IV).

Its modules (netmanager, pyroclast, cinder, conduit, crater, magma, lava) do not
import each other: they exchange :mod:`openvolcano.api` events through conduit.
"""
