"""The standard Q&A library (标准化问答库): model, validator, generator."""
