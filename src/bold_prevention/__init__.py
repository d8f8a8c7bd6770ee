"""BOLD Prevention toolkit: Step A of the "use case -> data -> linkage" pipeline over Data First."""

__version__ = "0.1.0"
