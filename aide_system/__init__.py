"""A small, real "AIDE system" for the bundled scenarios to measure.

It inspects the machine it runs on with psutil (diagnosis, health scoring)
and runs an async optimization cycle that does real work: garbage
collection, cache trimming and checksumming a working set.
"""
