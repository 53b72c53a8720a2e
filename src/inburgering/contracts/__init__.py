"""The tables every stage agrees on: tidy estimate rows (``tidy``)."""
