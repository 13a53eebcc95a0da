"""The plugin's own fixtures used directly: the outer run's matrix covers every live backend."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pytest_dbmatrix.provision import LiveBackend


def test_backend_reports_a_real_server(dbmatrix_backend: LiveBackend) -> None:
    assert dbmatrix_backend.info.version
    assert "***" in dbmatrix_backend.masked_url or dbmatrix_backend.url.password is None


def test_session_commit_stays_inside_the_test(db_session: Session) -> None:
    db_session.execute(sa.text("CREATE TEMPORARY TABLE IF NOT EXISTS scratch (x INTEGER)"))
    db_session.execute(sa.text("INSERT INTO scratch VALUES (1)"))
    db_session.commit()
    assert db_session.scalar(sa.text("SELECT count(*) FROM scratch")) == 1
