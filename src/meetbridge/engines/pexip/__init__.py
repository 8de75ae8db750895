"""Pexip Infinity: external policy server, event sink, Webapp3 links."""
