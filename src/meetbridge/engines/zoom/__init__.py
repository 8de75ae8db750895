"""Zoom: OAuth apps (user- and account-level), the meetings API, signed webhooks."""
