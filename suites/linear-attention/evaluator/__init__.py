"""The linear-attention suite's evaluator: the model around a candidate Mixer, the data, the
training loops and the three cascade stages. Nothing here is evolved."""
