"""Every notebook under notebooks/ runs top to bottom, and its jupytext twin is in step."""
from __future__ import annotations

import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "lambda" in text  # the printed jaxprs made it out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_paired_with_text_twin(path):
    jupytext = pytest.importorskip("jupytext")
    twin = path.with_suffix(".py")
    assert twin.exists(), f"{path.name} has no jupytext twin {twin.name}"
    from_text = jupytext.read(twin)
    from_nb = jupytext.read(path)
    code = lambda nb: [c.source.strip() for c in nb.cells if c.cell_type == "code"]
    assert code(from_text) == code(from_nb), f"{path.name} and {twin.name} differ; run " \
        f"`jupytext --sync {twin}`"
