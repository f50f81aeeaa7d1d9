"""Record stage: the outcome store every run writes and every status command reads, and the
lock that keeps overlapping runs apart."""
