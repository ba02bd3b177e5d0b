"""Fine-tuning: datasets from a workspace's annotated cases, the training loop (checkpoints, resume,
cancel, DDP), and the runs and model versions it records. No Qt: the GUI runs it as a subprocess."""
