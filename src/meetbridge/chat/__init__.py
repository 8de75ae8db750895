"""Chat platforms meetbridge lives in."""
