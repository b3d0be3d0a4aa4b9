"""Learning and serving code for recommendations: numpy and TensorFlow only, no Django."""
