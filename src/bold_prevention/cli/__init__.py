"""Command-line interface. Importing this package registers every command group on :data:`app`."""

from .app import app, use_vocabulary

# Each command module registers its commands on ``app`` when imported; add one import line per module below.
# fmt: off
# isort: off
# (command modules)
from . import serve as _serve, users as _users, audit as _audit  # noqa: F401
from . import load as _load  # noqa: F401
from . import catalogue as _catalogue, register as _register  # noqa: F401
from . import outputs as _outputs  # noqa: F401
from . import synth as _synth  # noqa: F401
from . import spine as _spine, cohort as _cohort  # noqa: F401
from . import trajectories as _trajectories  # noqa: F401
from . import demo as _demo  # noqa: F401
from . import link as _link  # noqa: F401
from . import wave as _wave  # noqa: F401
from . import scale as _scale  # noqa: F401
from . import study as _study  # noqa: F401
from . import usecase as _usecase  # noqa: F401
from . import sensitivity as _sensitivity  # noqa: F401
from . import sequence as _sequence  # noqa: F401
from . import plan as _plan  # noqa: F401
# isort: on
# fmt: on

use_vocabulary(app)  # after the command modules: their groups and commands take the option vocabulary's help

__all__ = ["app"]
