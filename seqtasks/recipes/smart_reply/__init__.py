"""The smart_reply recipe: its recipe, preprocessor, readers and built-in data."""

from seqtasks.recipes.smart_reply.recipe import SmartReply

__all__ = ["SmartReply"]
