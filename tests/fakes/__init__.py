"""Test doubles shared across the suite (servers, fake models)."""
