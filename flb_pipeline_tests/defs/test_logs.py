"""JSON-lines logging through a Dagster run: one object per line with the run, the scan and
the check, and no secret in any line, signed trading included."""

import json
import logging
from pathlib import Path

import dagster as dg

from flb_pipeline.defs.logs import REDACTED, JsonLinesHandler, redact
from flb_pipeline.exchange.signing import generate_key_pair
from flb_pipeline_tests.conftest import (
    SLOW_PORTFOLIO,
    STRICT_QUOTE_AGE,
    SimControl,
    check_results,
    definitions_for,
    run_job,
)

KEY_ID = "kid-5ecret-7f3a"


def test_secret_values_and_key_material_never_survive_redaction(tmp_path):
    assert redact(f"signed with {KEY_ID} ok", [KEY_ID]) == f"signed with {REDACTED} ok"
    assert redact("-----BEGIN PRIVATE KEY-----\nMIIE...", []) == REDACTED
    handler = JsonLinesHandler(str(tmp_path / "log.jsonl"), [KEY_ID])
    handler.emit(logging.LogRecord("x", logging.ERROR, "", 0, f"key {KEY_ID}", None, None))
    (line,) = (tmp_path / "log.jsonl").read_text().splitlines()
    assert json.loads(line)["message"] == f"key {REDACTED}"


def test_a_signed_blocked_cycle_logs_json_lines_with_run_scan_and_check(
    trading_sim, trading_db, tmp_path, monkeypatch
):
    private_path, public_pem = generate_key_pair(tmp_path)
    control = SimControl(trading_sim.root_url)
    control.http.post(
        "/_sim/keys", json={"key_id": KEY_ID, "public_key_pem": public_pem.decode()}
    ).raise_for_status()
    monkeypatch.setenv("KALSHI_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(private_path))
    log = tmp_path / "flb.jsonl"
    defs = definitions_for(trading_sim.url, trading_db, risk=STRICT_QUOTE_AGE)
    control.faults(**SLOW_PORTFOLIO)
    json_lines = {"class": "flb_pipeline.defs.logs.JsonLinesHandler", "path": str(log)}
    instance_logs = {"python_logs": {"dagster_handler_config": {"handlers": {"json": json_lines}}}}
    with dg.instance_for_test(overrides=instance_logs) as instance:
        result = run_job(defs, "trading_job", instance=instance)
    assert check_results(result)["stale_book"] is False
    lines = [json.loads(text) for text in log.read_text().splitlines()]
    assert lines and all(line["run_id"] == result.run_id for line in lines)
    (blocked,) = [line for line in lines if line["check"] == "stale_book"]
    assert blocked["level"] == "ERROR" and blocked["scan_id"].endswith(result.run_id[:8])
    assert {(line["event"], line["step"]) for line in lines} >= {("STEP_FAILURE", "risk_checks")}
    text = log.read_text()
    assert KEY_ID not in text and "BEGIN" not in text
    assert Path(private_path).read_text().strip().splitlines()[1] not in text
    control.http.close()
