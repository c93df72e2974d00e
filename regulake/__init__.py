"""regulake: a batch lakehouse for a provincial regulatory big-data center."""

__version__ = "0.1.0"
