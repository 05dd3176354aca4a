"""The LLM reviewer: prompts grounded in the factor notes, a guarded model call,
and validation of everything the model says before it becomes a finding."""
