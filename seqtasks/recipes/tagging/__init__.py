"""The tagging recipe: its recipe, preprocessor, readers and built-in data."""

from seqtasks.recipes.tagging.recipe import Tagging

__all__ = ["Tagging"]
