"""Use cases: domain rules combined with the ports. Async, framework-free."""
