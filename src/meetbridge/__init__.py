"""meetbridge."""
