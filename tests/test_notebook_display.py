"""What a fresh Jupyter kernel shows for the tools' results: pictures as PNGs without
pyplot ever imported, tables as HTML (not a list of arrays)."""
import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    """import numpy as np
import tinygrad_tf as tg
from tinygrad_tf import nn, viz
nn.manual_seed(0)
block = nn.EncoderBlock(8, 2, 16)
x = tg.randn(2, 3, 8, requires_grad=True)
with tg.trace() as tr:
    block(x).sum().backward()""",
    "viz.plot_grad_flow(viz.grad_flow(block))",
    'viz.plot_residuals({"post-LN": tr.residual_report()})',
    "tr.residual_report()",
    "tr.uses(x)",
    "import sys; 'matplotlib.pyplot' in sys.modules",
]


@pytest.fixture(scope="module")
def outputs():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return [cell.outputs[0]["data"] if cell.outputs else {} for cell in nb.cells]


def test_plots_show_as_pictures_without_pyplot(outputs):
    for data in outputs[1:3]:
        assert data["image/png"] and data["text/plain"].startswith("<Figure")
    assert outputs[-1]["text/plain"] == "False"


def test_reports_show_as_tables(outputs):
    report, uses = outputs[3], outputs[4]
    assert report["text/html"].count("<tr>") == 1 + 2          # the header and two residual adds
    assert "skip share" in report["text/plain"] and "array" not in report["text/plain"]
    assert uses["text/html"].startswith("<table>") and "total:" in uses["text/html"]
    assert len(uses["text/plain"]) < 1000
