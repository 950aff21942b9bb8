"""Model lab: training data readers, metrics and reports for text classifiers and NER taggers."""
