"""`scxpy bench`: side-by-side benchmarks of sched_ext policies in one 6.12 guest boot.

Host side: `bench.host` compiles policies, builds the kernel's example
schedulers as peers (`bench.peers`), writes a plan and boots one guest.
Guest side: `bench.guest` runs every contender interleaved over the
rounds and writes raw samples. Back on the host, `bench.stats`,
`bench.report` and `bench.plots` turn the samples into a table, JSON
and PNG plots.
"""
