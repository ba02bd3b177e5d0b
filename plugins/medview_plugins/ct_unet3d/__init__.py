"""A 3-D MONAI U-Net that segments body, lungs, liver, bone and lesions on CT."""
