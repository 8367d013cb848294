"""crater: placement, consolidation, follow-me migration and the OpenFlow rules of every Personal Network (paper section IV).

A pure library: it returns plans and rules, it does no I/O.
"""
