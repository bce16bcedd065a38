"""Generic building blocks and wrappers."""
