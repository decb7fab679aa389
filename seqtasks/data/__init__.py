"""Readers for conventional file formats and tf.data batching shared by the recipes."""
