"""REST bodies and conduit events as pydantic models, and typed HTTP clients.

This is the only vocabulary the two planes, the CLI, netlab and the dashboard
share (DESIGN section 2). It holds no behaviour beyond validation.
"""
