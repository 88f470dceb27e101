"""Step definitions of the conformance scenarios (features/): the OC is driven through its adapter.

`access` is loaded by conformance.plugin (so `-p conformance.plugin` brings it).
"""
