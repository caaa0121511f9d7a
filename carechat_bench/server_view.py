"""The server's own view of a load phase, from its /metrics: where a send's time went.

The load generator measures send to delivery; the server knows two parts of it. Its
group-committed writes (``carechat_message_batch_seconds``, one observation per
majority-acknowledged ``insert_many``, and ``carechat_messages_stored_total``) and the
time from reading a ``send`` frame to its ack being ready (``carechat_ws_frame_seconds``
for ``send``: the checks, the wait for the batch ahead, its own batch, the fan-out).
Their means over a phase say how much of a latency is MongoDB's write, how much is the
wait behind another batch, and how much is neither (the event loops and the loopback
on both sides).
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

from carechat_bench.processes import metrics_text

_SEND = (("type", "send"),)
# (sample name, labels it must have) -> key
_TOTALS = {
    ("carechat_message_batch_seconds_sum", ()): "batch_s",
    ("carechat_message_batch_seconds_count", ()): "batches",
    ("carechat_messages_stored_total", ()): "stored",
    ("carechat_ws_frame_seconds_sum", _SEND): "send_s",
    ("carechat_ws_frame_seconds_count", _SEND): "sends",
}


def totals(metrics_urls: Sequence[str]) -> dict[str, float]:
    """The counters above, summed over the servers (one /metrics each)."""
    return totals_of([metrics_text(url) for url in metrics_urls])


def totals_of(expositions: Sequence[str]) -> dict[str, float]:
    """:func:`totals` of expositions already read."""
    found = dict.fromkeys(_TOTALS.values(), 0.0)
    for text in expositions:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for (name, labels), key in _TOTALS.items():
                    if sample.name == name and set(labels) <= sample.labels.items():
                        found[key] += sample.value
    return found


def phase_view(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Means over the phase between two :func:`totals`: milliseconds per write and per
    send answered, and messages per write (0 where the phase had none)."""
    delta = {key: after[key] - before[key] for key in after}
    batches, sends = delta["batches"], delta["sends"]
    return {
        "batch_ms": 1000 * delta["batch_s"] / batches if batches else 0.0,
        "per_batch": delta["stored"] / batches if batches else 0.0,
        "send_ms": 1000 * delta["send_s"] / sends if sends else 0.0,
    }
