"""Credit-risk classes, 双随机 inspection plans and risk warnings (issue 7); see docs/RISK.md."""

from jobs.risk.job import classify_enterprises, draw_inspection_plan

__all__ = ["classify_enterprises", "draw_inspection_plan"]
