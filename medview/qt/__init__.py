"""The Qt/napari face of medview: thin widgets over the core. The only package that imports Qt."""
