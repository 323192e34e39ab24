"""planning edit: adjust a plan by hand in the browser, lock teams or areas, re-optimise the
rest and save the result as a new run folder.

``run_folder`` reads what ``planning run`` wrote and rebuilds its Result; ``live`` computes each
team's figures and checks for any assignment (pure); ``session`` holds the edit state with undo
and redo (pure); ``plan_of`` turns an edited assignment into a checked TeamPlan and its outputs;
``reoptimise`` runs the allocation with locks in a worker process; ``server`` is the local web
server and ``page.html`` the page it serves.
"""
