"""Synthetic demo cohort (placeholder, completed below)."""
