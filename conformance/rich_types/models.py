"""One table rich in types: every edge value must come back as written."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Colour(enum.Enum):
    red = "red"
    green = "green"


class Sample(Base):
    __tablename__ = "samples"
    id: Mapped[int] = mapped_column(primary_key=True)
    small: Mapped[int | None] = mapped_column(sa.SmallInteger)
    big: Mapped[int | None] = mapped_column(sa.BigInteger)
    money: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 4))
    ratio: Mapped[Decimal | None] = mapped_column(sa.Numeric)
    measure: Mapped[float | None] = mapped_column(sa.Float)
    exact: Mapped[float | None] = mapped_column(sa.Double)
    flag: Mapped[bool | None] = mapped_column(sa.Boolean(create_constraint=True,
                                                         name="ck_samples_flag"))
    colour: Mapped[Colour | None] = mapped_column(sa.Enum(Colour, native_enum=False,
                                                          create_constraint=True))
    day: Mapped[dt.date | None] = mapped_column(sa.Date)
    moment: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    aware: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    clock: Mapped[dt.time | None] = mapped_column(sa.Time)
    code: Mapped[str | None] = mapped_column(sa.CHAR(5))
    label: Mapped[str | None] = mapped_column(sa.Unicode(40))
    body: Mapped[str | None] = mapped_column(sa.Text)
    blob: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    doc: Mapped[Any] = mapped_column(sa.JSON, nullable=True)
    token: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class Tagged(Base):
    __tablename__ = "tagged"
    id: Mapped[int] = mapped_column(primary_key=True)
    tags: Mapped[list[str] | None] = mapped_column(postgresql.ARRAY(sa.String(20)))
