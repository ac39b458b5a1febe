"""The on-call engineer's command line (``python -m rescue_ops``)."""
