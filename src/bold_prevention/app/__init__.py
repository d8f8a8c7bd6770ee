"""The web application: practitioners' single-person view, analysts' pages and administration, server-rendered with
GOV.UK Frontend and MoJ Frontend (served from the package; nothing is fetched from elsewhere).

>>> from bold_prevention.app import AppConfig, create_app   # doctest: +SKIP
>>> app = create_app(AppConfig(Project.at("bold-demo")))      # doctest: +SKIP
"""

from .config import AppConfig
from .server import create_app

__all__ = ["AppConfig", "create_app"]
