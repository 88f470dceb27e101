"""The scenarios of features/ run under the conformance harness (conformance.plugin): each scenario drives an
OC through its adapter (`--adapter`, default: our reference OC) against a sandbox reached only through its
network interfaces (FTP, admin API). The steps live in conformance/steps/.
"""

pytest_plugins = ["conformance.plugin", "conformance.covage"]
