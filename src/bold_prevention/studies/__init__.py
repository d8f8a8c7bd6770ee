"""Studies: the BOLD pilots' analyses as versioned, declarative definitions plus the library code they name.

A study definition (``definitions/<name>.yaml``) states its question, population, data sources (and what happens
when one is missing), linkage band and sensitivity across bands, measures, analyses and the disclosure-checked
tables it releases, with a short methods note. The code each definition names takes a :class:`StudyContext` and
returns a :class:`StudyResult` (see :mod:`.base`).
"""

from .base import Headline, StudyContext, StudyResult

__all__ = ["Headline", "StudyContext", "StudyResult"]
