"""The admin as the control room: catalogue and merchandising, tracking and privacy, model
versions with their metrics and training curves, the dashboard, previews and experiments.
"""

from . import catalogue, experiments, tracking, versions  # noqa: F401  (registration by import)
from .base import EstimatedCountPaginator, LargeTableAdmin
from .privacy import export_users, forget_users

__all__ = ["EstimatedCountPaginator", "LargeTableAdmin", "export_users", "forget_users"]
