"""The bottom layer: errors, the cache, tool lookup, the manifest format.

Every other package may import from here; nothing here imports from the
rest of the project (tests/test_layers.py checks it).
"""
