"""Models that reproduce bring-your-own-database issues: String without a length, ORM cascades
next to database cascades, bulk UPDATE/DELETE, FK cycles, deferrable FKs, reserved words."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user"                       # reserved on PostgreSQL, SQL Server, Oracle
    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)   # no rowid on SQLite
    login: Mapped[str] = mapped_column(sa.String, unique=True)         # no length
    bio: Mapped[str | None] = mapped_column(sa.Text, index=True)       # TEXT in an index
    posts: Mapped[list[Post]] = relationship(cascade="all, delete-orphan")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    order: Mapped[int] = mapped_column(default=0)                      # reserved everywhere
    comments: Mapped[list[Comment]] = relationship(cascade="all, delete-orphan")


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"))                 # 2nd cascade path
    body: Mapped[str] = mapped_column(sa.String(500))


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employees.id"))  # cycle


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("departments.id", deferrable=True, initially="DEFERRED"))
    badge_code_assigned_by_the_security_office_on_the_first_working_day: Mapped[
        str | None] = mapped_column(sa.String(40))                     # 67 characters
