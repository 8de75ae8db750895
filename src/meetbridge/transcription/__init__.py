"""Offline transcripts of recordings: the speech model, the worker process, the job queue."""
