"""examples/activations.ipynb runs from top to bottom (nbclient) and shows the forms."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "activations.ipynb")


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb


def outputs(nb, key):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and key == "text/plain":
                yield out["text"]
            elif key in out.get("data", {}):
                yield out["data"][key]


def test_every_cell_ran_without_error(executed):
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out


def test_forms_are_shown_as_text_and_rendered_latex(executed):
    text = "\n".join(outputs(executed, "text/plain"))
    latex = "\n".join(outputs(executed, "text/latex"))
    for form in ("p*(1 - p)", "1 - tanh(x)^2", "-p1*p2", "p3*(1 - p3)"):
        assert form in text, form
    assert "p \\left(1 - p\\right)" in latex
    assert "\\tanh" in latex
    assert latex.count("$$") >= 8  # the results and the steps, each rendered
    assert "nan" not in text and "inf" not in text
