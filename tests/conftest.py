import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PLANNING_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.fail(f"real data not found at {DATA_DIR}: tests need ../shared/data")
    return DATA_DIR


@pytest.fixture(scope="session")
def hampshire(data_dir):
    from planning.data import load_areas

    return load_areas(["E10000014"], data_dir)
