"""Data First catalogues: read the published ODS files (and write them for synthetic data), store the normalised
catalogue in the warehouse, and search it by words, driver or outcome.

>>> from bold_prevention.catalogue import read_catalogues, CatalogueIndex   # doctest: +SKIP
>>> index = CatalogueIndex(read_catalogues(["catalogues/"]).variables)      # doctest: +SKIP
>>> index.search("no fixed abode", driver="accommodation")                  # doctest: +SKIP
"""

from .reader import CODE_LIST_COLUMNS, VARIABLE_COLUMNS, Catalogue, read_catalogue, read_catalogues
from .search import CatalogueIndex, SearchHit, hits_frame, load_vocabulary, search
from .store import export_csv, load_catalogues, read_stored, store_catalogue
from .values import ValueSpec, parse_values
from .writer import CATALOGUE_FILES, write_reference_oasys, write_synthetic_catalogues

__all__ = [
    "CATALOGUE_FILES", "CODE_LIST_COLUMNS", "VARIABLE_COLUMNS", "Catalogue", "CatalogueIndex", "SearchHit",
    "ValueSpec", "export_csv", "hits_frame", "load_catalogues", "load_vocabulary", "parse_values", "read_catalogue",
    "read_catalogues", "read_stored", "search", "store_catalogue", "write_reference_oasys",
    "write_synthetic_catalogues",
]
