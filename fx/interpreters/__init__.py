"""One module per transformation: ad, batching, partial_eval, jit."""
