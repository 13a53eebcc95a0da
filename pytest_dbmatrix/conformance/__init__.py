"""The conformance suite: tests generated from the user's models, static and live per backend."""
