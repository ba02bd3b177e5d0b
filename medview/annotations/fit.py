"""Whether an annotation lies on the scan it is opened over, and how it differs when it does not.

The comparison itself is :mod:`medview.core.misfit`: reading a label map (``medview.io``) needs it
too, and ``medview.io`` sits below the annotations. This is its name among the annotation formats.
"""

from medview.core.misfit import Misfit, MisfitKind, describe_misfit

__all__ = ["Misfit", "MisfitKind", "describe_misfit"]
