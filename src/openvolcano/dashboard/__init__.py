"""Web dashboard for operators (paper section III: web interfaces towards users, operator and provider).

A client of the REST APIs only; it never imports the planes.
"""
