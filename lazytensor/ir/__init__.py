"""The IR: nodes, rewrites, gradient rules, scheduling."""
