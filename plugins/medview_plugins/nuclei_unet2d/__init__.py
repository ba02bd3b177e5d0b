"""A 2-D MONAI U-Net that segments nuclei on H&E tiles and whole-slide images."""
