"""Training components: uncertainty task weighting, PCGrad gradient surgery, ECG augmentation."""
