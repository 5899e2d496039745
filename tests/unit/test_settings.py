"""The typed settings: defaults, validation, and the environment read when asked."""

from __future__ import annotations

import pytest

from scrip import settings
from scrip.domain import clock
from scrip.settings import InvalidSetting, MissingSetting, Settings


def test_an_empty_environment_gives_the_production_defaults() -> None:
    found = Settings.from_environment({})
    assert found.clock_offset_seconds == 0
    assert found.event_retry_base_seconds == 2
    assert found.event_sweep_grace_seconds == 300
    assert found.idempotency_retention_seconds == 30 * 24 * 3600
    assert found.webhooks_allow_loopback_http is False


def test_a_resource_a_function_was_not_given_is_named_when_used() -> None:
    found = Settings.from_environment({settings.TABLE_NAME: "scrip-table"})
    assert found.table_name == "scrip-table"
    with pytest.raises(MissingSetting, match=settings.EVENT_QUEUE_URL):
        _ = found.event_queue_url


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (settings.EVENT_RETRY_BASE_SECONDS, "soon"),
        (settings.EVENT_RETRY_BASE_SECONDS, "-1"),
        (settings.EVENT_SWEEP_GRACE_SECONDS, "nan"),
        (settings.CLOCK_OFFSET_SECONDS, "inf"),
        (settings.IDEMPOTENCY_RETENTION_SECONDS, "1.5"),
    ],
)
def test_a_malformed_value_is_refused_with_its_variable(name: str, text: str) -> None:
    with pytest.raises(InvalidSetting, match=name):
        Settings.from_environment({name: text})


def test_loopback_http_is_allowed_only_by_the_exact_word_true() -> None:
    assert Settings.from_environment({settings.WEBHOOKS_ALLOW_LOOPBACK_HTTP: "true"}).webhooks_allow_loopback_http
    assert not Settings.from_environment({settings.WEBHOOKS_ALLOW_LOOPBACK_HTTP: "1"}).webhooks_allow_loopback_http


def test_a_variable_changed_at_run_time_is_seen_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.CLOCK_OFFSET_SECONDS, "0")
    before = clock.now()
    assert settings.current() is settings.current()  # unchanged environment: validated once
    monkeypatch.setenv(settings.CLOCK_OFFSET_SECONDS, str(3600))
    assert settings.current().clock_offset_seconds == 3600
    assert (clock.now() - before).total_seconds() >= 3600
    monkeypatch.setenv(settings.EVENT_RETRY_BASE_SECONDS, "0")
    assert settings.current().event_retry_base_seconds == 0
