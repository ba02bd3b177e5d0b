"""What a finished training run says, in the order it should be read: the test cases' scores and
verdict first (never trained on, never used to choose the checkpoint), the validation scores second
(they chose the checkpoint, so they flatter it).

The run's ``done`` event (``python -m medview.training --progress-json``) carries ``metric``,
``metrics_before``/``metrics_after`` (validation), and ``test_cases``, ``test_before``/``test_after``
(``None`` without test cases) and ``test_verdict``.
"""

from __future__ import annotations

from medview.training.command import metric_title

TEST_MEANING = "never trained on, never used to choose the checkpoint"


def finished_summary(event: dict) -> str:
    """The finished run's result as the user should read it first: the test cases' scores (never trained
    on, never used to choose the checkpoint) and the verdict, e.g. ``test Dice 0.812 → 0.845 on 3 test
    cases (...)``; without test cases, says the result is validation only."""
    before, after = event.get("test_before"), event.get("test_after")
    if before is None or after is None:
        return "no test cases: the result is validation only, which chose the checkpoint"
    metric, count = event["metric"], len(event.get("test_cases") or ())
    lines = [
        f"test {metric_title(metric)} {_score(before.get(metric))} → {_score(after.get(metric))} on "
        f"{_cases(count, 'test case')} ({TEST_MEANING})"
    ]
    classes = [
        f"{key[len(metric) + 1 :]} {_score(before[key])} → {_score(after[key])}"
        for key in after
        if key.startswith(f"{metric}_") and key in before
    ]
    if classes:
        lines.append(f"per class: {', '.join(classes)}")
    if event.get("test_verdict"):
        lines.append(event["test_verdict"])
    return "\n".join(lines)


def card_event(card: dict) -> dict:
    """A published version's model card in the ``done`` event's terms, so a finished run reads the same
    when the panel opens on it later."""
    return {
        key: card.get(key) for key in ("version", "metric", "metrics_before", "metrics_after", "epochs")
    } | {
        "stop_reason": card.get("stop_reason", ""),
        "validation_cases": list(card.get("data", {}).get("validation", {})),
        "test_cases": card.get("test_cases") or [],
        "test_before": card.get("test_before"),
        "test_after": card.get("test_after"),
        "test_verdict": (card.get("test") or {}).get("verdict_text"),
    }


def validation_summary(event: dict) -> str:
    """The finished run's validation scores, second: they chose the checkpoint, so they flatter it."""
    metric = event["metric"]
    return (
        f"validation (chose the checkpoint): {metric_title(metric)} {event['metrics_before'][metric]:.3f} → "
        f"{event['metrics_after'][metric]:.3f} on {_cases(len(event['validation_cases']), 'case')}; "
        f"{_cases(event['epochs'], 'epoch')}, {event['stop_reason']}"
    )


def _score(value: float | None) -> str:
    """A score to 3 decimals; JSON ``null`` (undefined on these cases, e.g. a class none of them holds)
    reads as ``n/a``."""
    return "n/a" if value is None else f"{value:.3f}"


def _cases(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
