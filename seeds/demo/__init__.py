"""The demo generator: drawn registry objects, a marketplace of three auction houses, and the ground
truth of which lot is which.
"""
