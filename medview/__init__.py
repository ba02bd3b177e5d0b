"""medview: a desktop viewer for medical images, annotations and the models that predict them."""

__version__ = "0.1.0"
