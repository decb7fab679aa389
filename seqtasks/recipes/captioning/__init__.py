"""The captioning recipe: its recipe, preprocessor, readers and built-in data."""

from seqtasks.recipes.captioning.recipe import Captioning

__all__ = ["Captioning"]
