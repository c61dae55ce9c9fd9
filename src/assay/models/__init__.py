"""Models: the `Model` protocol and one module per provider."""
