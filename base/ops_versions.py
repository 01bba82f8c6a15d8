"""Which kernel brought each sched_ext_ops callback newer than 6.12.

Shared by the code generator (which callbacks a policy may declare) and
the runtime (the error when the running kernel lacks one): libbpf skips
an ops member the kernel does not know, so without this check such a
callback would silently never run. Facts from the kernel's
include/linux/sched/ext.h and tools/sched_ext/include/scx/compat.bpf.h.
"""

# callback -> the first Linux version whose struct sched_ext_ops has it
OPS_SINCE: dict[str, str] = {
    "cgroup_set_bandwidth": "6.17",  # cpu.max (period, quota, burst in microseconds)
    "cgroup_set_idle": "6.19",  # cpu.idle
}

# Callbacks that exist only with CONFIG_EXT_GROUP_SCHED (sched_ext's cgroup support).
GROUP_SCHED_OPS = ("cgroup_init", "cgroup_exit", "cgroup_prep_move", "cgroup_move", "cgroup_cancel_move",
                   "cgroup_set_weight", "cgroup_set_bandwidth", "cgroup_set_idle")
