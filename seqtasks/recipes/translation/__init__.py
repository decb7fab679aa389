"""The translation recipe: its recipe, preprocessor, readers and built-in data."""

from seqtasks.recipes.translation.recipe import Translation

__all__ = ["Translation"]
