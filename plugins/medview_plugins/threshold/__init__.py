"""A weight-free plugin: the template for writing a plugin, and the test double of the plugin API."""
