"""quake's multi-process fast path: workers with private table replicas, and their pool.

See :mod:`.worker` (the per-process loop), :mod:`.replica` (versioned table
updates and barriers) and :mod:`.pool` (starting workers, PACKET_FANOUT
steering, changing the number of active workers at run time).
"""
