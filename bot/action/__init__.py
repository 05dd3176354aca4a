"""The GitHub Action entry point: `twelve-review action`."""
