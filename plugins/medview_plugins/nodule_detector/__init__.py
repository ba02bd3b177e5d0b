"""A CenterNet-style nodule detector for chest radiographs."""
