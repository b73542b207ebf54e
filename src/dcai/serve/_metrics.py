"""Prometheus metrics of the prediction server, in a registry of their own (one per app).

Request durations use OpenTelemetry's default explicit bucket boundaries (0–10 s), so
dashboards built for OpenTelemetry HTTP metrics read them unchanged.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = ["OTEL_BUCKETS", "Metrics"]

#: OpenTelemetry's default histogram boundaries (milliseconds in the spec), in seconds.
OTEL_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


class Metrics:
    """Counters, gauges and histograms of one server."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # process_resident_memory_bytes, process_cpu_seconds_total, ... (Linux; none elsewhere)
        ProcessCollector(registry=r)
        self.requests = Counter(
            "dcai_requests",
            "Prediction requests by deployment, route, model version and status.",
            ["deployment", "route", "model_version", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "dcai_request_duration_seconds",
            "Time to answer a prediction request (parse, route, predict).",
            ["deployment", "route"],
            buckets=OTEL_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "dcai_requests_in_flight", "Prediction requests being answered.", registry=r
        )
        self.confidence = Histogram(
            "dcai_prediction_confidence",
            "Confidence (top class probability) of each answered instance.",
            ["deployment"],
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
            registry=r,
        )
        self.shadow_predictions = Counter(
            "dcai_shadow_predictions",
            "Instances answered by a shadow model.",
            ["deployment"],
            registry=r,
        )
        self.shadow_disagreements = Counter(
            "dcai_shadow_disagreements",
            "Instances where the shadow model's label differs from the answer returned.",
            ["deployment"],
            registry=r,
        )
        self.review_queue = Gauge(
            "dcai_review_queue_size",
            "Answers waiting for a person (needs_review, no decision yet).",
            ["deployment"],
            registry=r,
        )
        self.alerts_firing = Gauge(
            "dcai_alerts_firing",
            "Monitoring alerts firing (dcai monitor's rules, every window size).",
            ["deployment"],
            registry=r,
        )
        self.feedback = Counter(
            "dcai_feedback",
            "Feedback received: labels (ground truth) and outcomes.",
            ["deployment", "kind"],
            registry=r,
        )
        self.dropped_rows = Counter(
            "dcai_log_dropped_rows", "Prediction log rows dropped (log store failed).", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
