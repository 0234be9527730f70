"""The seed page's examples, verbatim (the page itself also runs as a doctest)."""

import doctest
import pathlib

import lucid

SEED = pathlib.Path(__file__).resolve().parents[2] / "docs" / "seed" / "ConvTranspose3d.rst"


def test_seed_page_runs_as_doctest():
    failures, tried = doctest.testfile(str(SEED), module_relative=False, globs={"Tensor": lucid.Tensor},
                                       optionflags=doctest.ELLIPSIS)
    assert tried == 12  # every example on the page ran
    assert failures == 0


def test_seed_copy_matches_the_shared_page():
    shared = pathlib.Path(__file__).resolve().parents[3] / "shared" / "seed" / "ConvTranspose3d.rst"
    if shared.exists():
        assert shared.read_text() == SEED.read_text()


def test_help_reads_like_the_seed_page():
    doc = lucid.nn.ConvTranspose3d.__doc__
    for heading in ["Class Signature", "Parameters", "Attributes", "Forward Calculation",
                    "Backward Gradient Calculation", "Examples"]:
        assert heading in doc
    assert "3D autoencoders or volumetric segmentation networks" in doc


def test_class_docstring_examples_run():
    for cls in (lucid.nn.ConvTranspose1d, lucid.nn.ConvTranspose2d, lucid.nn.ConvTranspose3d):
        parser = doctest.DocTestParser()
        test = parser.get_doctest(cls.__doc__, {}, cls.__name__, None, 0)
        runner = doctest.DocTestRunner()
        runner.run(test)
        assert runner.failures == 0, cls.__name__
        assert runner.tries >= 7


def test_every_public_name_has_a_docstring():
    import lucid.nn.functional as F

    missing = []
    for mod in (lucid, lucid.nn, F, lucid.optim, lucid.random):
        for name in mod.__all__:
            doc = (getattr(getattr(mod, name), "__doc__", None) or "").strip()
            lines = doc.splitlines()
            if lines and lines[0].startswith(name + "(") and "->" in lines[0]:
                lines = lines[1:]  # pybind11's generated signature line is not documentation
            if not "".join(lines).strip():
                missing.append(f"{mod.__name__}.{name}")
    assert missing == []
