"""lavanode: lava's node-side half on a data-plane server (paper section IV).

It holds the image catalogue - the real small services that stand for the
paper's home devices (``images``) - and the node agent, a REST app that
executes lava driver calls on a server whose back-end is not reachable from
the control plane. It never imports StratoV: the two halves share only
``openvolcano.api.lava``.
"""
