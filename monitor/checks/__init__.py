"""One module per kind of health check; each check's ``run()`` returns CheckResults."""
