"""Graph -> graph rewrites; ``pipeline.optimize`` runs them in order for an opt level."""
from .pipeline import PassRow, optimize

__all__ = ["PassRow", "optimize"]
