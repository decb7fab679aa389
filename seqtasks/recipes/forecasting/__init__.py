"""The forecasting recipe: its recipe, preprocessor, readers and built-in data."""

from seqtasks.recipes.forecasting.recipe import Forecasting

__all__ = ["Forecasting"]
