"""cinder: aggregates monitoring and detects faults (paper section IV, Elaboration layer).

Polls geyser agents and switch statistics; its detectors are pure functions of
the samples and ``now``; a thin shell carries out the polling.
"""
