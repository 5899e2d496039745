"""Every minute (EventBridge schedule): fire the automations that fell due (06 §1.9): a
program-scoped one's event, a participants-scoped one's fan-out run."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from scrip.observability import lambda_handler, logger, metrics
from scrip.services import automation_runs, subscriptions


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = automation_runs.run_due()
    metrics.add_metric(name="AutomationsFired", unit="Count", value=report.fired)
    metrics.add_metric(name="AutomationFiresSkipped", unit="Count", value=report.skipped)
    metrics.add_metric(name="AutomationFiresFailed", unit="Count", value=report.failed)
    metrics.add_metric(name="SubscriptionRefreshesStarted", unit="Count", value=report.refreshes)
    result: dict[str, Any] = {
        "fired": report.fired,
        "skipped": report.skipped,
        "failed": report.failed,
        "dropped": report.dropped,
        "refreshes": report.refreshes,
    }
    # participant_state subscriptions due by now (06 §1.8): the same tick, its own due index,
    # whose shard-hours with due entries go to their fire jobs (fired page by page from the stream).
    fires = subscriptions.fire_due()
    metrics.add_metric(name="SubscriptionFireJobsStarted", unit="Count", value=fires.started)
    result["subscriptions"] = {"jobs_started": fires.started, "jobs_running": fires.running}
    logger.info("automation scheduler ran", extra=result)
    return result
