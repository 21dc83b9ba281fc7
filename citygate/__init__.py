"""The top of citygate: the `citygate` command and what needs several packages at once (the demo,
evaluation on the simulator's ground truth). Nothing below imports it.
"""
