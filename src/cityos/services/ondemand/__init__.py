"""AI on-demand transport (AIオンデマンド交通): a dial-a-ride (DARP) optimiser.

Model, Cordeau-format loader, independent checker, ALNS optimiser and dynamic insertion.
"""

from cityos.services.ondemand.checker import CheckResult, check_solution
from cityos.services.ondemand.loader import load_instance
from cityos.services.ondemand.model import Instance, Solution
from cityos.services.ondemand.solver import solve

__all__ = ["CheckResult", "Instance", "Solution", "check_solution", "load_instance", "solve"]
