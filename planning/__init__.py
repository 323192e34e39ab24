"""Family Help planner: contiguous team patches, family hubs and workforce costing."""

from planning.config import load_scenario

__version__ = "0.1.0"

__all__ = ["__version__", "load_scenario", "run_scenario"]


def run_scenario(path, data_dir=None):
    """Run every stage of a scenario file and return the Result (nothing is written)."""
    from planning.pipeline import run_scenario as _run

    return _run(path, data_dir)
