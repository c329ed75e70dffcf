"""The API's routes, one module per resource; each is thin over ``api.store`` and ``engine``."""
