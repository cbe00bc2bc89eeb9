"""Helpers for the Binder, browser and site tests: build the Binder environment, run JupyterLab."""
