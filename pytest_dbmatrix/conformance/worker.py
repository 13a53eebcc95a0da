"""The roundtrip and constraints scenarios of one backend in a child process.

SQLAlchemy's compiling and result handling keep one core busy per backend, and the threads of
one process share one: a child process per backend uses the others. The child loads the same
models, connects to the same run database (the tables are already there) and returns the
outcomes; whatever it cannot compute is left to the item, which computes it as before."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import sqlalchemy as sa

from pytest_dbmatrix.backends import FAMILIES
from pytest_dbmatrix.conformance.constraints import Scenarios
from pytest_dbmatrix.conformance.live import Outcome, RoundTrip
from pytest_dbmatrix.conformance.schema import SchemaPlan
from pytest_dbmatrix.fixtures import load_metadata

Task = tuple[str, str]  # tier ("roundtrip" or "constraints"), table key


@dataclass(frozen=True)
class Job:
    """What a child needs: the models, the database and the scenarios to run."""

    metadata: str
    source: str
    path: str
    url: str
    kind: str
    backend: str
    connect_timeout: float
    tasks: tuple[Task, ...]
    durable: bool = False
    """--dbmatrix-sqlite-durable: the child opens the run's SQLite file as the run does."""


def run(job: Job) -> dict[Task, Outcome]:
    """The outcome of each task that ran to its end (errors are left to the items).

    A warning is an error here: the item runs that scenario again under pytest's filters."""
    warnings.simplefilter("error")
    if job.path not in sys.path:
        sys.path.insert(0, job.path)
    plan = SchemaPlan.of(load_metadata(job.metadata, job.source))
    family = FAMILIES[job.kind]
    url = sa.make_url(job.url)
    engine = sa.create_engine(url, **family.engine_options(url),
                              connect_args=family.connect_args(url, job.connect_timeout))
    family.prepare_engine(engine, foreign_keys=True, durable=job.durable)
    outcomes: dict[Task, Outcome] = {}
    try:
        for tier, table in job.tasks:
            scenario = RoundTrip if tier == "roundtrip" else Scenarios
            try:
                with engine.connect() as conn, conn.begin() as transaction:
                    try:
                        outcomes[tier, table] = scenario(conn, plan, plan.table(table),
                                                         job.backend).run()
                    finally:
                        transaction.rollback()
            except Exception:  # the item computes it again and reports the error
                continue
    finally:
        engine.dispose()
    return outcomes
