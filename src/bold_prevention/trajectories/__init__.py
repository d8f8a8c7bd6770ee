"""Trajectories: person timelines, pathways through services and time-to-event analyses."""
