# Stand-in for a policy file: the verifier test expects line 3 quoted.
# (not a real policy)
counter = values[0]  # the line the generated C marks
