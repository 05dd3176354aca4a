"""Publishing a review on GitHub: what the comments and the summary say, which
findings go inline, and the hidden markers that make re-runs idempotent.

These modules are pure (no HTTP); the GitHub client that posts them comes next.
"""
