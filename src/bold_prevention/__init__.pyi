# Types of the package root for type checkers (the module loads Project and DEFAULT_SEED lazily, by name).
from .api import DEFAULT_SEED as DEFAULT_SEED
from .api import Project as Project

__version__: str
__all__ = ["DEFAULT_SEED", "Project", "__version__"]
