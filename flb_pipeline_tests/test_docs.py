"""The project's own docs: they stay inside the repository, and the jobs tables list exactly
what the Definitions object holds, each launcher with its default state (derived from
`flb_pipeline.definitions`, so a new job, schedule or sensor cannot go unlisted)."""

import re
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from flb_pipeline.definitions import defs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOCS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("**/*.md"))]
JOB_TABLES = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "ARCHITECTURE.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")
NAME = re.compile(r"`([a-z_]+)`")
RUNNING = {dg.DefaultScheduleStatus.RUNNING, dg.DefaultSensorStatus.RUNNING}


@dataclass(frozen=True)
class Row:
    """One row of a jobs table: the job it runs (None: none), its launchers, its default."""

    job: str | None
    launchers: tuple[str, ...]
    default: str


def job_table(path: Path) -> list[Row]:
    """The table headed `| job | ... | launched by | default |`."""
    lines = path.read_text().splitlines()
    (start,) = [i for i, line in enumerate(lines) if re.match(r"\| job \|.*\| default \|$", line)]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        job, _runs, launched_by, default = [cell.strip() for cell in line.strip("|").split("|")]
        jobs = NAME.findall(job)
        rows.append(
            Row(
                job=jobs[0] if jobs else None,
                launchers=tuple(NAME.findall(launched_by)),
                default=re.sub(r"[^a-z-].*", "", default.strip("*").lower()),
            )
        )
    return rows


def launchers() -> dict[str, tuple[str | None, str]]:
    """Every schedule and sensor: (the job it launches or None, "on" or "off" by default)."""
    found: dict[str, tuple[str | None, str]] = {}
    for schedule in defs.schedules:
        found[schedule.name] = (schedule.job_name, _state(schedule.default_status))
    for sensor in defs.sensors:
        jobs = [target.job_name for target in sensor.targets]
        found[sensor.name] = (jobs[0] if jobs else None, _state(sensor.default_status))
    return found


def _state(status: object) -> str:
    return "on" if status in RUNNING else "off"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(PROJECT_ROOT).as_posix())
def test_the_docs_point_only_inside_the_repository(doc):
    text = doc.read_text()
    assert "../shared" not in text and "/work/" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        resolved = (doc.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(PROJECT_ROOT), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"


@pytest.mark.parametrize("doc", JOB_TABLES, ids=lambda path: path.name)
def test_the_jobs_table_lists_every_job_schedule_and_sensor_with_its_default(doc):
    rows = job_table(doc)
    listed_jobs = [row.job for row in rows if row.job is not None]
    assert sorted(listed_jobs) == sorted(job.name for job in defs.jobs)
    expected = launchers()
    listed = {name: (row.job, row.default) for row in rows for name in row.launchers}
    assert sum(len(row.launchers) for row in rows) == len(listed)  # each launcher once
    assert listed == expected
    for row in rows:
        if not row.launchers:  # launched by hand, from the UI
            assert row.job is not None and row.default == "-", row
