"""OC-side conformance harness: the reference OC client, adapters for users' own code, checks, report."""
