"""Step definitions of the conformance scenarios (features/): the OC is driven through its adapter.

Every module here is loaded by the harness (simulator/operators/covage/harness/__init__.py, `step_modules`): a
capability's steps plug in by being here, as `opsim new capability covage <name>` writes them.
"""
