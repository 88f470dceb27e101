"""The scenarios of features/ run under the conformance harness (conformance.plugin): each scenario drives an
OC through its adapter (`--adapter`, default: our reference OC) against a sandbox reached only through its
network interfaces (FTP, admin API). The operator's harness (its steps, its checks,
its reference OC) lives with the operator, in simulator/operators/covage/harness/.
"""

pytest_plugins = ["conformance.plugin", "simulator.operators.covage.harness"]
