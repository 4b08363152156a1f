"""JSON-lines logging, an option beside Dagster's console log.

Turned on per Dagster instance, for every run it executes, in its dagster.yaml:

    python_logs:
      dagster_handler_config:
        handlers:
          json_lines:
            class: flb_pipeline.defs.logs.JsonLinesHandler
            path: data/flb.jsonl

One JSON object per line: time, level, run, job, step, the Dagster event if the line is
one, `scan_id` and `check` where the code attached them (`extra=`), and the message. Secret
values known to the deployment (the API key id and its private key, an alert webhook URL)
are replaced before a line is written, whatever printed them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from flb_pipeline.defs.resources import KEY_ID_ENV, PRIVATE_KEY_ENV

WEBHOOK_ENV = "FLB_ALERT_WEBHOOK_URL"
SECRET_ENVS = (KEY_ID_ENV, WEBHOOK_ENV)
REDACTED = "<redacted>"
PEM_MARKER = "-----BEGIN"


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret value replaced; a PEM block never survives either."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return REDACTED if PEM_MARKER in text else text


class JsonLinesHandler(logging.Handler):
    """Appends one JSON object per record to `path`; `secrets` default to the values of the
    deployment's secret environment variables, read when the handler is made."""

    def __init__(self, path: str, secrets: Sequence[str] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.secrets = tuple(deployment_secrets() if secrets is None else secrets)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "run_id": meta.get("run_id"),
            "job": meta.get("job_name"),
            "step": meta.get("step_key"),
            "event": getattr(event, "event_type_value", None),
            "scan_id": getattr(record, "scan_id", None),
            "check": getattr(record, "check", None),
            "message": redact(str(meta.get("orig_message") or record.getMessage()), self.secrets),
        }
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(json.dumps(line, default=str) + "\n")


def deployment_secrets() -> list[str]:
    """The secret values this deployment holds: never written to a log."""
    secrets = [os.environ.get(name, "") for name in SECRET_ENVS]
    key_path = os.environ.get(PRIVATE_KEY_ENV)
    if key_path:
        secrets.append(_key_text(key_path))
    return [secret for secret in secrets if secret]


def _key_text(path: str) -> str:
    """The private key file's content, so that even a dump of it is redacted."""
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""
