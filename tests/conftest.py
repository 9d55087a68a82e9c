"""Test configuration shared by the whole suite.

The factories of flow policies, test velocity fields and the enumerated contract cases live in
``tests/flow_factories.py``; this file puts ``tests/`` on ``sys.path`` so that test modules in any
sub-directory can ``from flow_factories import ...``, and defines the shared fixtures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture
def one_thread():
    """Runs a test with one torch thread: these tests use tiny tensors, and on a shared 2-core machine
    OpenMP threads spinning against other processes made them ~5x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _restore_registries():
    """Puts every part registry back as it was after each test.

    A registry keeps what a dotted path resolved to (``rec_writer:Recorder``); without this, a test that trains
    with a user part would change the allowed names another test's error message lists.
    """
    from genpo.registry import Registry

    saved = [(r, dict(r._entries)) for r in Registry.instances()]
    yield
    for registry, entries in saved:
        registry._entries.clear()
        registry._entries.update(entries)
