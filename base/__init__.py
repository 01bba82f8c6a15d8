"""The bottom layer: errors, the cache, tool lookup.

Every other package may import from here; nothing here imports from the
rest of the project.
"""
