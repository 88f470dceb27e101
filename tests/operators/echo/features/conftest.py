"""The echo operator's scenarios run under the conformance plugin with the echo harness (its hooks, its steps)."""

pytest_plugins = ["conformance.plugin", "tests.operators.echo.harness"]
