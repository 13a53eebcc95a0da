"""Passwords never survive an output path: properties over generated passwords."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import URL, make_url

from pytest_dbmatrix.redact import MASK, mask_url, scrub

# Printable passwords of at least 3 characters (shorter secrets are not replaced: they would
# mask every "a" in the output), including the characters a URL must quote: @ : / % # ? space;
# no "*", which could re-form around the mask.
PASSWORDS = st.text(alphabet=string.ascii_letters + string.digits + "@:/%#?!$&'(),;= -._~",
                    min_size=3, max_size=24).filter(lambda p: p.strip() == p)


def _url(password: str) -> URL:
    return URL.create("postgresql+psycopg2", "app", password, "db.example", 5432, "app")


@given(PASSWORDS)
def test_a_masked_url_never_shows_the_password(password: str) -> None:
    shown = make_url(mask_url(_url(password)))
    assert shown.password == MASK
    assert shown.set(password=password) == _url(password)  # nothing else was changed
    assert make_url(_url(password).render_as_string(hide_password=False)).password == password


@given(PASSWORDS, st.sampled_from(["connect failed: {url}", "{url} refused (timeout)",
                                   "[{url}]", "error at {url}\nretrying {url}"]))
def test_scrub_removes_the_password_from_free_text(password: str, template: str) -> None:
    """As errors print it, quoted in the URL, and as the known secret wherever else it is."""
    rendered = _url(password).render_as_string(hide_password=False)
    text = template.format(url=rendered) + f" (password was {password})"
    cleaned = scrub(text, [password])
    assert password not in cleaned
    assert MASK in cleaned


@given(PASSWORDS)
def test_scrub_masks_a_url_password_it_was_not_told(password: str) -> None:
    """A URL in a driver's message is masked by its shape alone, when the password needs no
    quoting (a quoted one is masked through the run's known secrets, as above)."""
    plain = "".join(c for c in password if c.isalnum()) or "secret"
    cleaned = scrub(f"could not connect to postgresql://app:{plain}@db.example:5432/app")
    assert f":{plain}@" not in cleaned
    assert f"app:{MASK}@db.example" in cleaned
