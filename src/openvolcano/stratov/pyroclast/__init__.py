"""pyroclast: service-chain management for the cloud service provider (paper section IV; Nova and Neutron-like).

Catalogue of virtual-image types, service chains as graphs, subscriptions.
"""
