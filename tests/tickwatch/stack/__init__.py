"""Tests of the local stack (tickwatch.stack) and of the test harness itself."""
