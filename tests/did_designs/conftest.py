"""Single-threaded BLAS for the design tests (see
inburgering.designs.event_study.single_threaded_blas)."""

import pytest

from inburgering.designs.event_study import single_threaded_blas


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with single_threaded_blas():
        yield
