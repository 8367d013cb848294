"""OpenVolcano: an open-source fog/edge computing platform.

The paper (Bolla et al., INPUT project) splits it into StratoV, the control
plane (:mod:`openvolcano.stratov`), and Caldera, the data plane
(:mod:`openvolcano.caldera`). The two planes never import each other: they
meet over OpenFlow 1.3 (:mod:`openvolcano.ofp`) and REST (:mod:`openvolcano.api`).
"""

__version__ = "0.1.0"
