"""Figures of the evaluation chapters: functions that return a matplotlib Figure."""
