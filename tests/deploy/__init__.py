"""Tests of the deploy adapters."""
