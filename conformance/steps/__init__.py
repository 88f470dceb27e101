"""Step definitions of the conformance scenarios (features/): the OC is driven through its adapter.

`access` is loaded by conformance.plugin (so `-p conformance.plugin` brings it); `legacy_access` holds the
steps of the scenarios not yet converted, which still play the OC themselves with the reference client.
"""
