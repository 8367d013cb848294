"""geyser's probes: pure parsers over /proc, /sys and cgroup text, plus thin readers.

Where the hardware reports no power, power comes from a labelled model.
"""
