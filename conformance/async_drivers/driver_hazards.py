"""Code as FastAPI apps write it, run through each async driver: the driver hazards.

Run by scripts/conformance.sh (on sqlite+aiosqlite) and by tests/test_conformance.py (on the
servers' driver columns); expected_failures.json says which test fails on which column, and
with which hazard of the catalogue.
"""

import datetime as dt

import pytest
import sqlalchemy as sa
from async_drivers.models import Author, Book
from sqlalchemy.orm import selectinload

pytestmark = pytest.mark.asyncio
NOON = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


async def _author(session):
    author = Author(id=1, name="Ursula")
    session.add(author)
    session.add(Book(id=1, author=author, pages=300, published=NOON.replace(tzinfo=None)))
    await session.commit()
    return author


async def test_aware_datetime_into_a_naive_column(db_async_session):
    """asyncpg refuses an aware datetime for TIMESTAMP WITHOUT TIME ZONE; the others store it."""
    author = await _author(db_async_session)
    db_async_session.add(Book(id=2, author=author, pages=10, published=NOON))
    await db_async_session.commit()


async def test_string_bound_to_an_integer_column(db_async_connection):
    """psycopg 3 and asyncpg send typed parameters: '300' for an integer is refused there."""
    await db_async_connection.execute(sa.insert(Author).values(id=1, name="Ursula"))
    await db_async_connection.execute(sa.text(
        "INSERT INTO book (id, author_id, pages, published) VALUES (1, 1, :pages, :published)")
        .bindparams(pages="300", published=NOON.replace(tzinfo=None)))


async def test_lazy_load_inside_async_code(db_async_session):
    """A relationship loaded lazily in async code: MissingGreenlet on every async driver."""
    await _author(db_async_session)
    db_async_session.expunge_all()
    book = await db_async_session.get(Book, 1)
    assert book.author.name == "Ursula"


async def test_eager_and_awaitable_loads_work(db_async_session):
    """The fixes: selectinload in the query, or AsyncAttrs.awaitable_attrs."""
    await _author(db_async_session)
    db_async_session.expunge_all()
    query = sa.select(Author).options(selectinload(Author.books))
    author = (await db_async_session.scalars(query)).one()
    assert [b.pages for b in author.books] == [300]
    book = await db_async_session.get(Book, 1)
    assert (await book.awaitable_attrs.author).name == "Ursula"
