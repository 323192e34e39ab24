"""England in one run: every upper-tier council's teams, hubs and workforce, on Dask.

``councils`` lists the councils; ``template`` makes each one's scenario from an England
template; ``task`` runs one council as one Dask task into its own run folder; ``run`` submits the
tasks (a LocalCluster or an existing scheduler), keeps each record as it finishes and resumes;
``national`` writes the national table, map, GeoPackage, page and the check against the
published social-work workforce.
"""

from planning.england.run import EnglandRun, run_england

__all__ = ["EnglandRun", "run_england"]
