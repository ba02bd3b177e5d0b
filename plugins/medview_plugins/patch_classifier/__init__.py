"""A DenseNet that says whether a radiograph patch holds a nodule, with a Grad-CAM saliency map."""
