"""The scenarios of features/ run under the conformance harness (conformance.plugin): each scenario drives an
OC through its adapter (`--adapter`, default: our reference OC) against a sandbox reached only through its
network interfaces (FTP, admin API). The operator's harness (its steps, its checks,
its reference OC) lives with the operator, in simulator/operators/covage/harness/.
"""

from pathlib import Path

pytest_plugins = ["conformance.plugin", "simulator.operators.covage.harness"]

# A folder with a conftest of its own holds another operator's scenarios (`opsim new operator` writes one), played
# with its harness: `opsim conformance run --features features/<operator>`, not with Covage's.
collect_ignore = sorted(p.parent.name for p in Path(__file__).parent.glob("*/conftest.py"))
