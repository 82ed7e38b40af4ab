"""Evaluation metrics: plain functions on arrays and DataFrames, one concern per module."""
