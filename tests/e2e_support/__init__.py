"""Helpers for the live-mode browser test: loopback network namespace, streamlit launcher, fake camera."""
