"""netmanager: the network manager and its database (paper section IV, Data Collection and Configuration layer).

Users, services, subscriptions and monitored history; long-term analytics
(demand forecast, provisioning plan); notifies subscription changes over REST.
"""
