"""Delivery settings: the admin's (rate limits, retries, auto-pause) and the deployment's sizes."""
import os
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from ..core.extensions import db
from ..core.settings.models import Option
from ..core.settings.services import SettingSpec
from .ratelimit import parse_rate, rate_validator

MAX_BACKOFF_SECONDS = 6 * 3600
SETTINGS = (
    SettingSpec("delivery.rate_per_second", "", "Sending rate",
                "Most messages sent per second by all workers together, exact: e.g. 14/s or 30/min. "
                "Empty: no limit (0 is refused: a rate is more than zero).", validate=rate_validator(1)),
    SettingSpec("delivery.rate_per_hour", "", "Hourly sending limit",
                "Most messages per hour, spread evenly: e.g. 10000/h. Empty: no limit (0 is refused).",
                validate=rate_validator(3600)),
    SettingSpec("delivery.max_attempts", 5, "Attempts per recipient",
                "How many times a temporary failure (421, 450, 451, 452, 454, lost connection) is "
                "tried before the recipient is marked failed.", "int", min=1, max=100),
    SettingSpec("delivery.retry_base_seconds", 60, "First retry after (seconds)",
                "Wait before the second attempt; each further attempt waits twice as long.", "int",
                min=0, max=86_400),
    SettingSpec("delivery.pause_after_failures", 50, "Pause after consecutive failures",
                "A broadcast pauses itself after this many failures in a row and shows why "
                "(0: never).", "int", min=0, max=1_000_000),
)
# Deployment knobs (environment): rows per chunk job, rows claimed per batch, lease and time box.
# A killed worker leaves at most one message unknown while its write-ahead record in Redis lives;
# its claim (the batch it sends and the one claimed ahead: two batches) is what it leaves unknown
# when Redis lost that record too. Batches of 500 in chunks of 2,000 rather than 100 in 500: two
# workers send about a fifth more (fewer claims and chunk changes to serialise on), for at most
# 1,000 rows unknown instead of 200 in that double fault (bench/README.md, "Issue 13 §5 on
# 2026-12-01, third session"). With a rate limit a claim still holds about a second of sending.
CONFIG_DEFAULTS = {
    "DELIVERY_CHUNK_SIZE": 2000,
    "DELIVERY_PARALLEL_JOBS": 16,  # runner jobs per run: how many workers can send one run at once
    "DELIVERY_BATCH_SIZE": 500,
    "DELIVERY_LEASE_SECONDS": 60,
    "DELIVERY_JOB_SECONDS": 60,
}


def declare(app) -> None:
    """Declare the settings and fill the DELIVERY_* config from the environment or defaults."""
    for spec in SETTINGS:
        app.extensions["herald_settings"].declare(spec)
    for name, default in CONFIG_DEFAULTS.items():
        app.config.setdefault(name, type(default)(os.environ.get(name, default)))


def current_options() -> dict:
    """Every delivery setting, stored value or default, read in one query."""
    values = {spec.key: spec.default for spec in SETTINGS}
    values.update(db.session.execute(select(Option.key, Option.value)
                                     .where(Option.key.in_(list(values)))).all())
    return values


def _int(options, key, minimum=0) -> int:
    try:
        return max(minimum, int(options[key]))
    except (TypeError, ValueError):
        return next(spec.default for spec in SETTINGS if spec.key == key)


@dataclass
class SendPolicy:
    """What a sending job obeys, read once when it starts."""
    smtp_url: str = ""
    rates: dict = field(default_factory=dict)
    max_attempts: int = 5
    retry_base: int = 60
    pause_after: int = 50
    batch_size: int = 50

    @classmethod
    def current(cls) -> "SendPolicy":
        """The policy from the current settings and config."""
        options, rates = current_options(), {}
        for name, key, period in (("second", "delivery.rate_per_second", 1),
                                  ("hour", "delivery.rate_per_hour", 3600)):
            try:
                rates[name] = parse_rate(options[key], period)
            except ValueError:
                current_app.logger.error("ignoring invalid %s setting %r", key, options[key])
        return cls(smtp_url=current_app.config["SMTP_URL"], rates=rates,
                   max_attempts=_int(options, "delivery.max_attempts", 1),
                   retry_base=_int(options, "delivery.retry_base_seconds"),
                   pause_after=_int(options, "delivery.pause_after_failures"),
                   batch_size=int(current_app.config["DELIVERY_BATCH_SIZE"]))

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): base, 2x, 4x ..."""
        return min(MAX_BACKOFF_SECONDS, self.retry_base * 2 ** max(0, attempt - 1))
