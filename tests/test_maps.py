"""Team colours: a graph colouring of the teams' adjacency over ColorBrewer Set3."""

from __future__ import annotations

from planning.maps import PALETTE, colour_graph, team_adjacency


def test_neighbours_differ_and_colours_are_stable():
    # a wheel: a hub touching a ring of seven (odd ring: needs 3 colours, plus the hub's)
    ring = [f"R{k}" for k in range(7)]
    graph = {"H": set(ring)}
    for k, node in enumerate(ring):
        graph[node] = {"H", ring[(k - 1) % 7], ring[(k + 1) % 7]}
    colours = colour_graph(graph)
    assert all(colours[a] != colours[b] for a in graph for b in graph[a])
    assert set(colours.values()) <= set(PALETTE)
    assert colour_graph({k: set(v) for k, v in reversed(graph.items())}) == colours
    # the palette is spread: eight teams get eight of the twelve colours
    assert len(set(colours.values())) == 8


def test_adjacency_from_area_edges():
    assignment = {"a": "T1", "b": "T1", "c": "T2", "d": "T3"}
    graph = team_adjacency(assignment, ["a", "b", "c", "d"], [[0, 1], [1, 2], [2, 3]])
    assert graph == {"T1": {"T2"}, "T2": {"T1", "T3"}, "T3": {"T2"}}
