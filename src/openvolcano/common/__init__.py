"""Shared foundation: typed identifiers, clocks (real and fake), errors, configuration, logging.

Everything here is small and dependency-free so that every other package,
including the pure cores, may import it.
"""
