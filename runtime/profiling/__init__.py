"""The snnc profiler: static utilization, activity per core and step, a time/energy model, plots."""

from .activity import Activity, activity, core_positions
from .cost import MODEL, estimate_cost
from .plots import write_plots
from .report import format_profile, profile_report
from .static import RESOURCES, static_profile

__all__ = ["MODEL", "RESOURCES", "Activity", "activity", "core_positions", "estimate_cost",
           "format_profile", "profile_report", "static_profile", "write_plots"]
