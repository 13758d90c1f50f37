"""The registry index and its searches: Hamming, descriptors, embeddings, twins, retro-match, relists."""
