"""Everything the plugin shows people: header, terminal summary, JSON, JUnit properties."""
