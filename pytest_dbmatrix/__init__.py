"""pytest-dbmatrix: one test, every database, and a report of what differs."""

import sys


def _import_without_assertion_rewriting() -> None:
    """Let Python import this package's modules, not pytest's assertion rewriter.

    pytest marks the whole package of an installed plugin for rewriting, so every module is
    parsed and compiled from source in each run that cannot cache the result
    (PYTHONDONTWRITEBYTECODE, common in CI images, or a read-only site-packages): 0.3 s a run
    on this machine, again in each xdist worker. The plugin reports through pytest.fail and
    its findings, never through a bare assert, so the rewriting gains nothing. This reads
    the rewriter's private state; where it is not there, modules are rewritten as before."""
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        if type(finder).__name__ != "AssertionRewritingHook" or not isinstance(marked, set):
            continue
        ours = {name for name in marked if name == __name__ or name.startswith(__name__ + ".")}
        marked.difference_update(ours)
        cache = getattr(finder, "_marked_for_rewrite_cache", None)
        if ours and isinstance(cache, dict):
            cache.clear()


_import_without_assertion_rewriting()

from pytest_dbmatrix.backends.base import Backend, Capabilities  # noqa: E402

__all__ = ["Backend", "Capabilities", "__version__"]
__version__ = "0.1.0"
