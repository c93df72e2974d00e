"""双随机、一公开: the random inspection plan drawn by risk class (gold.inspection_plan); see docs/RISK.md."""
