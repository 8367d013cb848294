"""lava: one interface over the virtualization back-ends (paper section IV).

Creates, starts, stops, migrates and destroys virtual images without crater
knowing which library (netns, libvirt, ...) runs on each server.
"""
