"""Counts, rates, trends and comparisons: the questions residents and analysts ask of an area."""
