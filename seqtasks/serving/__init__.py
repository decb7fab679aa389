"""``seqtasks serve``: TF Serving's REST API over seqtasks exports, with a page to try them."""
