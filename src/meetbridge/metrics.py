"""Prometheus metrics. One registry per application instance, so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Policy answers normally take well under a millisecond; Infinity gives up at 5 s.
_POLICY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SINK_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 7.0)


class TranscriptionGauges:
    """Transcription progress: jobs by state (from the database, so every replica agrees) and
    the real-time factor of the transcripts this process made."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._jobs = Gauge(
            "meetbridge_transcription_jobs",
            "Transcription jobs by state (queued: the queue's depth; running; done; failed).",
            ["state"],
            registry=registry,
        )
        self._rtf = Histogram(
            "meetbridge_transcription_real_time_factor",
            "Time to transcribe over the audio's length (below 1: faster than real time).",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0),
            registry=registry,
        )
        self._audio = Counter(
            "meetbridge_transcription_audio_seconds",
            "Seconds of speaker audio transcribed.",
            registry=registry,
        )

    def jobs(self, counts: dict[str, int]) -> None:
        for state, count in counts.items():
            self._jobs.labels(state).set(count)

    def finished(self, audio_seconds: float, processing_seconds: float) -> None:
        self._audio.inc(audio_seconds)
        if audio_seconds > 0:
            self._rtf.observe(processing_seconds / audio_seconds)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.transcription = TranscriptionGauges(self.registry)
        self.policy_answers = Counter(
            "meetbridge_policy_answers",
            "External-policy answers given to Infinity, by request type and outcome.",
            ["request", "outcome"],
            registry=self.registry,
        )
        self.policy_latency = Histogram(
            "meetbridge_policy_latency_seconds",
            "Time to answer an external-policy request.",
            ["request"],
            buckets=_POLICY_BUCKETS,
            registry=self.registry,
        )
        self.sink_latency = Histogram(
            "meetbridge_event_sink_latency_seconds",
            "Time to store and acknowledge an event-sink POST.",
            buckets=_SINK_BUCKETS,
            registry=self.registry,
        )
        self.events_received = Counter(
            "meetbridge_events_received",
            "Events stored in the inbox, by source and event name.",
            ["source", "event"],
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "meetbridge_events_rejected",
            "Event-sink POSTs refused, by reason (unauthorized, invalid, unavailable).",
            ["source", "reason"],
            registry=self.registry,
        )
        self.events_applied = Counter(
            "meetbridge_events_applied",
            "Inbox events processed by the applier, by outcome "
            "(applied, duplicate, unused, not_ours, failed, stale: a retried event that found "
            "no meeting in progress).",
            ["outcome"],
            registry=self.registry,
        )
        self.inbox_depth = Gauge(
            "meetbridge_inbox_depth",
            "Events stored but not yet applied.",
            registry=self.registry,
        )
        self.inbox_failed = Gauge(
            "meetbridge_inbox_failed",
            "Events set aside because applying them failed; `meetbridge events failed` lists "
            "them, `meetbridge events retry` applies them again.",
            registry=self.registry,
        )
        self.applier_leading = Gauge(
            "meetbridge_applier_leading",
            "1 when this process applies events: always on SQLite; on PostgreSQL, the one "
            "replica that leads (exactly one replica should show 1).",
            registry=self.registry,
        )
        self.meetings_in_progress = Gauge(
            "meetbridge_meetings_in_progress",
            "Meetings in progress.",
            registry=self.registry,
        )

        self.outbox_backlog = Gauge(
            "meetbridge_outbox_backlog",
            "Mattermost updates waiting to be delivered (cards, statuses, ringing).",
            registry=self.registry,
        )
        self.outbox_dead = Gauge(
            "meetbridge_outbox_dead",
            "Mattermost updates that could not be delivered "
            "(listed by `meetbridge outbox dead`, retried by `meetbridge outbox retry`).",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
