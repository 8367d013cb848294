"""conduit: the centre of StratoV (paper section IV).

Routes typed events between modules, triggers crater, hands its results to
magma and lava; a failing handler is caught, counted and dead-lettered.
"""
