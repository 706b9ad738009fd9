"""Tests of shera.build."""
