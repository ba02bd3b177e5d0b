"""medview's bundled model plugins, each registered under the ``medview.models`` entry-point group.

Every network plugin has its weights (``weights.safetensors``), a ``MODEL_CARD.md`` and the
``train.py`` that regenerates both from :mod:`medview.demo` data.
"""
