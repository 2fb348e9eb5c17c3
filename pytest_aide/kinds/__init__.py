"""The result types, one module per kind; import them from :mod:`pytest_aide.results`."""
