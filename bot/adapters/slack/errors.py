"""Turn any failure into one sentence for Slack. No stack trace ever reaches a user."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from bot.adapters.slack.markup import SLACK
from bot.domain.errors import PermanentError, Rejected, TransientError

log = logging.getLogger("bot.slack")


def user_message(run: Callable[[], str]) -> str:
    try:
        return run()
    except Rejected as e:
        return f":warning: {e.describe(SLACK)}"
    except TransientError as e:
        log.warning("transient failure: %s", e)
        return f":hourglass: {e} Nothing was changed; please try again in a minute."
    except PermanentError as e:
        log.error("permanent failure: %s", e)
        return f":x: {e}"
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("unexpected error (ref %s)", ref)
        return (
            f":x: Something went wrong inside eks-access (reference `{ref}` for the platform "
            "team). Nothing was granted."
        )
