"""How report.html writes figures: years plain, money in whole pounds, no long decimals."""

from __future__ import annotations

import pandas as pd

from planning.htmlreport import assumptions_table, cell_text, table_html, value_text
from planning.rounding import gbp_text


def test_figures_as_a_reader_expects_them():
    assert cell_text("rates_year", 2025) == "2025"
    assert cell_text("cost_gbp", 1_637_494.5) == "1,637,495"
    assert cell_text("gap", 0.0123) == "1.23%"
    assert value_text(486_870.1234567) == "486,870"
    assert value_text(0.278765463510527) == "0.2788"
    assert value_text(15.4) == "15.4" and value_text(22_230.0) == "22,230"
    assert gbp_text(28_852_189.5) == "£28,852,190" and gbp_text(None) == "n/a"
    frame = pd.DataFrame({"budget_gbp": [14_426_094.6], "rates_year": [2025], "gap": [0.0076]})
    page = table_html(frame)
    assert "£14,426,095" in page and ">2025<" in page and "0.76%" in page


def test_wide_tables_of_few_rows_are_turned():
    frame = pd.DataFrame([{f"c{k}": k for k in range(20)}])
    page = table_html(frame)
    assert page.count("<tr>") == 21  # a header and one row per column


def test_assumptions_cite_no_internal_files():
    from planning.config import Scenario

    scenario = Scenario.model_validate({"name": "x", "councils": ["E10000028"]})
    table = assumptions_table(scenario)
    assert not table.meaning.str.contains(r"\.(?:md|py)\b").any()
    assert table.set_index("setting").at["workforce.rates_year", "value"] in ("", "2025")
