"""The notebooks in notebooks/ run from top to bottom (nbclient, the project's own Python kernel).

Each runs Staffordshire (about 15 s of solving) and writes its outputs into pytest's tmp_path
(PLANNING_NOTEBOOK_OUT). A failing cell fails the test with the cell's traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, out: Path, monkeypatch):
    """Run a notebook in a python3 kernel (jupyter_client starts it with this interpreter) from
    the notebooks folder; return it with its outputs."""
    monkeypatch.setenv("PLANNING_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return nb


def outputs(nb) -> str:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            texts.append(out.get("text", ""))
            texts += [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(texts)


@pytest.mark.slow
def test_service_designer_notebook_runs_compares_and_sweeps(tmp_path, monkeypatch):
    nb = execute("service_designer.ipynb", tmp_path, monkeypatch)
    text = outputs(nb)
    assert "report.html" in text and "map.html" in text
    assert (tmp_path / "staffordshire" / "report.html").is_file()
    assert (tmp_path / "compare" / "compare.csv").is_file()
    assert (tmp_path / "compare" / "changed_areas_staffordshire_narrow.png").is_file()
    assert (tmp_path / "sweep" / "sweep.csv").is_file()
    assert "areas, geography, teams, hubs, workforce" in text  # the sweep reused the run
    assert sum(bool(c.get("outputs")) for c in nb.cells if c.cell_type == "code") >= 8


@pytest.mark.slow
def test_finance_notebook_reads_the_staffing_workbook(tmp_path, monkeypatch):
    nb = execute("finance.ipynb", tmp_path, monkeypatch)
    text = outputs(nb)
    folder = tmp_path / "staffordshire_budget"
    assert (folder / "staffing.xlsx").is_file() and (folder / "report.html").is_file()
    assert "budget_curve" in text and "'summary'" in text
    assert "over budget**, short by £" in text  # £27m is short of the full plan
