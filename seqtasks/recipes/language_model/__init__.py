"""The language_model recipe: its recipe, preprocessor, readers and built-in data."""

from seqtasks.recipes.language_model.recipe import LanguageModel

__all__ = ["LanguageModel"]
