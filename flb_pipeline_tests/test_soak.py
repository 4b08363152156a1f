"""`flb soak`: the fault schedule, and a two-minute soak as the operator runs it (a real
simulator process, Dagster job execution, a DuckDB file), checked against its own store."""

import re
import subprocess
from pathlib import Path

import pytest

from flb_pipeline.exchange.simulator import FaultConfig
from flb_pipeline.soak import BACKGROUND_FAULTS, FAULT_SCHEDULE, faults_for
from flb_pipeline.store import Store
from flb_pipeline_tests.e2e.harness import FLB

SOAK_MINUTES = 2


def test_an_episode_is_on_for_its_cycles_and_back_at_default_after():
    partial = next(e for e in FAULT_SCHEDULE if e.name == "partial fills")
    on = [c for c in range(1, 31) if faults_for(c)["partial_fill_ratio"] == 0.5]
    assert on == [1, 2, 3, 11, 12, 13, 21, 22, 23]
    assert faults_for(4)["partial_fill_ratio"] == FaultConfig().partial_fill_ratio
    assert partial.every == 10 and partial.lasting == 3


def test_every_cycle_sets_every_knob_of_the_schedule_and_the_background():
    knobs = {name for episode in FAULT_SCHEDULE for name in episode.knobs} | set(BACKGROUND_FAULTS)
    for cycle in range(1, 241):
        faults = faults_for(cycle)
        assert set(faults) == knobs
        assert faults["error_rate"] == 0.05
        FaultConfig().merged(faults)  # every value is one the simulator accepts


def test_each_kind_of_fault_comes_round_within_the_first_fifteen_cycles():
    for episode in FAULT_SCHEDULE:
        assert any(episode.active(cycle) for cycle in range(1, 16)), episode.name


def figure(output: str, name: str) -> str:
    match = re.search(rf"^{name}\s+(.*)$", output, re.MULTILINE)
    assert match, f"no {name!r} line in:\n{output}"
    return match.group(1)


@pytest.mark.soak
@pytest.mark.timeout(SOAK_MINUTES * 60 + 300)  # the soak, then setting up and checking
def test_a_two_minute_soak_under_faults_loses_and_duplicates_nothing(tmp_path: Path):
    soak = subprocess.run(
        [FLB, "soak", "--minutes", str(SOAK_MINUTES), "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=SOAK_MINUTES * 60 + 270, check=False,
    )  # fmt: skip
    print(soak.stdout)
    assert soak.returncode == 0, soak.stdout + soak.stderr
    out = soak.stdout
    assert figure(out, "integrity") == "holds"
    assert figure(out, "duplicate orders") == "0"
    assert figure(out, "unaccounted orders") == "0"
    assert figure(out, "lost snapshots") == "0"
    assert figure(out, "positions").startswith("local positions equal the exchange's (0 adopted")
    cycles = int(figure(out, "cycles run").split()[0])
    sent = int(figure(out, "orders sent").split()[0])
    assert cycles >= 10 and sent > 0
    assert re.fullmatch(r"p50 \d+\.\d\d s, p95 \d+\.\d\d s", figure(out, "cycle latency"))
    assert "MB per hour at one cycle per 30 s" in figure(out, "store growth")
    trips = int(figure(out, "kill-switch trips"))
    assert len(re.findall(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  \w+: ", out, re.MULTILINE)) == trips

    with Store(tmp_path / "flb.duckdb").connect() as con:
        statuses = dict(
            con.execute(
                "SELECT status, count(*) FROM api_calls WHERE status IN (429, 500) GROUP BY 1"
            ).fetchall()
        )
        scans = con.execute("SELECT count(*) FROM scans").fetchone()[0]
        duplicates = con.execute(
            "SELECT count(*) FROM (SELECT scan_id, ticker FROM market_snapshots"
            " GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
    assert statuses.get(429, 0) > 0 and statuses.get(500, 0) > 0  # the faults did happen
    assert scans == cycles and duplicates == 0
