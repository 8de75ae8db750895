"""Commands of the ``meetbridge`` CLI that live outside cli.py (deployment and diagnosis)."""
