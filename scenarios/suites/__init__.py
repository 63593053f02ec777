"""The scenario suites: one module per lab part plus the random ones. Importing a module
registers its scenarios; ``scenarios.registry`` discovers every module of this package."""
