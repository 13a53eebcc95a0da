"""pytest-dbmatrix: one test, every database, and a report of what differs."""

from pytest_dbmatrix.backends.base import Backend, Capabilities

__all__ = ["Backend", "Capabilities", "__version__"]
__version__ = "0.1.0"
