"""Tests of shera.steps."""
