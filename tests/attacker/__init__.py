"""An intruder's attack on published releases, written independently of the disclosure-control code.

It reads only what a release folder publishes (the CSV tables of ``output-checking/``, ``results.json`` titles and
kinds, ``config.json`` rule sets) and tries to bound every suppressed count. See README.md in this folder.
"""

from .differencing import differencing_attack
from .findings import Finding, definitely_small, disclosures, judge, unsound
from .km import km_attack, published_small_events
from .leaks import checker_files_attack
from .lp import LinearAttack, lp_attack
from .reader import Release, Table, load_release, load_releases, truth_values

__all__ = [
    "Finding", "definitely_small", "disclosures", "judge", "unsound",
    "Release", "Table", "load_release", "load_releases", "truth_values",
    "LinearAttack", "lp_attack", "km_attack", "published_small_events", "differencing_attack",
    "checker_files_attack",
]
