"""The echo operator's scenarios (steps: tests/operators/echo/harness.py)."""

from pytest_bdd import scenarios

scenarios("echo.feature")
