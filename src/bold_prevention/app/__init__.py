"""The web application: practitioners' single-person view, analysts' pages and administration, server-rendered with
GOV.UK Frontend and MoJ Frontend (served from the package; nothing is fetched from elsewhere).

>>> from bold_prevention.app import AppConfig, create_app   # doctest: +SKIP
>>> app = create_app(AppConfig(Project.at("bold-project")))      # doctest: +SKIP
"""

__all__ = ["AppConfig", "create_app"]


def __getattr__(name: str):
    # Imported on first use, so that `bold users` and `bold audit` start without loading the web server.
    if name == "AppConfig":
        from .config import AppConfig

        return AppConfig
    if name == "create_app":
        from .server import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
