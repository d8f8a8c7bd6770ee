"""Early warning: features, models, metrics and model cards for the shipped use cases."""
