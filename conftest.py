# pytest configuration shared by the Python tests and the doctests of docs/.
# The seed page assumes `Tensor` is in scope, as `from lucid import Tensor` gives.
import pytest


@pytest.fixture(autouse=True)
def _lucid_doctest_namespace(doctest_namespace):
    import lucid

    doctest_namespace["Tensor"] = lucid.Tensor
    doctest_namespace["lucid"] = lucid
