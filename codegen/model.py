"""The policy model: what a validated policy is, in the terms the generated C needs.

Plain data classes (QueueSpec, RuleSpec, ..., Policy) plus the properties
the templates read: which features the generated code pays for, where a
task's virtual time lives, which helpers exist. validate.py fills them
from a Scheduler class, plan.py decides the rest (placement, callbacks,
keep_prev, counter slots), and the templates in codegen/templates/ only
format them. Nothing here reads the user's classes or raises PolicyError.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scxpy.base.manifest import ConfigItem, Manifest, Stats, Tunable as ManifestTunable
from scxpy.base.ops_versions import OPS_SINCE
from scxpy.codegen import rawc, taskstate
from scxpy.codegen.rawc import RawSpec
from scxpy.codegen.srcloc import SrcLoc, abs_path
from scxpy.codegen.textfmt import fmt_cpus, fmt_ns

CACHE_LINE = 64  # bytes; each CPU's row of counters starts on its own line
SELECT_CPU = ("default", "prev_idle", "idle_core", "llc")  # the choices of Policy.select_cpu
# What share="cgroup" honours (manifest "cgroup"): the runtime checks the kernel for each.
CGROUP_FEATURES = ("weight", "idle", "bandwidth")
# The generated callbacks behind share="cgroup" (moves need none: the kernel dequeues a
# runnable task around a move, so quiescent/runnable account it in the old and new cgroup).
CGROUP_CALLBACKS = ("runnable", "quiescent", "cgroup_init", "cgroup_exit", "cgroup_set_weight",
                    "cgroup_set_bandwidth", "cgroup_set_idle", "tick")


@dataclass
class QueueSpec:
    name: str
    order: str
    scope: str
    base_id: int
    lag_ns: int
    steal: bool
    cpus_words: list[int] | None  # 64-bit words of the CPU bitmap, None = all CPUs
    loc: SrcLoc
    index: int = 0
    key_c: str | None = None  # C of the ordering key (vtime queues), None: the task's vtime
    stat_enqueued: int | None = None  # counter slots; None: not counted
    stat_dispatched: int | None = None
    stat_stolen: int | None = None
    stat_rescued: int | None = None  # taken from an offline CPU's instance
    # Placement, decided by plan.py: which idle CPU enqueue_<name>() wakes
    # ("cpu": the instance's owner, "llc": one of the instance's LLC, "any":
    # any the task may use and the queue serves, "none": no kick needed).
    kick: str = "any"
    # Decided by plan.py: after a kick of its own kind (or none), wake any idle
    # CPU the task may use: the queue has no owner CPU to wake, or idle CPUs
    # steal from it.
    kicks_any_idle: bool = True
    preempts: bool = False  # some rule sending tasks here may preempt
    share: str = "task"  # "cgroup": tasks share by their cgroup's hierarchical weight (templates/cgroup/)
    # Decided by plan.py: the lag clamp only on wakeup (else at every enqueue).
    lag_on_wakeup_only: bool = False

    @property
    def vtime(self) -> bool:
        return self.order == "vtime"

    @property
    def macro(self) -> str:
        return f"DSQ_{self.name}"

    @property
    def cpus_arg(self) -> str:
        """The CPU bitmap argument of the placement helpers."""
        return f"cpus_{self.name}" if self.cpus_words else "NULL"

    @property
    def key_call(self) -> str | None:
        """The call of the helper that computes this queue's ordering key (None: ordered by vtime)."""
        return f"key_{self.name}(p, tctx)" if self.key_c else None

    @property
    def cpu_clocked(self) -> bool:
        """A vtime queue with an instance per CPU or LLC: an arriving task's virtual time is
        held within its lag of the target CPU's own clock (cpu_clock), not the global one.
        Instances advance at their own pace; against the fastest CPU's clock, a task
        arriving at a crowded CPU would wait until that CPU's tasks caught up."""
        return self.vtime and not self.shared and not self.key_c

    def move_c(self, dsq: str) -> str:
        """C: move the first task of instance `dsq` that may run on `cpu` to cpu's local
        queue (share="cgroup": passing over tasks their cgroup's cpu.max throttles)."""
        return f"cgroup_move_to_local({dsq}, cpu)" if self.share == "cgroup" else f"scxpy_dsq_move_to_local({dsq})"

    @property
    def clock_c(self) -> str:
        """C of the clock a vtime queue's tasks are held near (lag) for `cpu`."""
        return "clock_of(cpu)" if self.cpu_clocked else "vtime_now"

    @property
    def guard_clock_c(self) -> str:
        """C: the virtual time a task the wait guard ran from this queue restarts at (0: kept)."""
        return self.clock_c if self.vtime else "0"

    @property
    def shared(self) -> bool:
        """One queue for all CPUs (not one instance per CPU or LLC)."""
        return self.scope == "shared"

    @property
    def dsq_id_c(self) -> str:
        """C of the DSQ id serving `cpu` (the body of the DSQ_<name>(cpu) macro)."""
        return {"shared": f"({self.base_id}ULL)", "cpu": f"({self.base_id}ULL + (u32)(cpu))",
                "llc": f"({self.base_id}ULL + llc_of(cpu))"}[self.scope]

    @property
    def scope_words(self) -> str:
        return {"shared": "shared", "cpu": "per CPU", "llc": "per LLC"}[self.scope]

    @property
    def instances_c(self) -> str:
        """C of the number of instances of a per-CPU or per-LLC queue."""
        return "nr_cpus" if self.scope == "cpu" else "scxpy_nr_llcs"

    @property
    def own_instance_c(self) -> str:
        """C of the instance index serving `cpu` (per-CPU or per-LLC queue)."""
        return "(u32)cpu" if self.scope == "cpu" else "llc_of(cpu)"

    @property
    def instance_cpu_c(self) -> str:
        """C of the CPU argument of DSQ_<name>(): a shared queue ignores it."""
        return "cpu" if self.picks_cpu else "0"

    @property
    def picks_cpu(self) -> bool:
        """Whether placement needs a target CPU (per-CPU/LLC instance, or a CPU set to honour)."""
        return self.scope != "shared" or bool(self.cpus_words)

    @property
    def summary(self) -> str:
        parts = [self.order, {"shared": "shared", "cpu": "one per CPU", "llc": "one per LLC"}[self.scope]]
        if self.vtime:
            parts.append(f"lag {fmt_ns(self.lag_ns)}")
        if self.steal:
            parts.append("idle CPUs steal")
        if self.cpus_words:
            parts.append(f"CPUs {fmt_cpus(self.cpus_words)}")
        if self.share == "cgroup":
            parts.append("shared by cgroup weight")
        return ", ".join(parts)


@dataclass
class RuleSpec:
    index: int
    label: str
    loc: SrcLoc
    cond_c: str | None
    queue: QueueSpec | None  # None for a built-in queue
    builtin: str | None  # "SCX_DSQ_GLOBAL" / "SCX_DSQ_LOCAL"
    slice_c: str
    weight_c: str | None
    preempt: bool  # may preempt (always, or when preempt_c holds)
    preempt_c: str | None = None  # C of the condition on the target CPU; None: unconditional
    slice_ns: int | None = None  # the slice when it is a constant
    source: str = ""  # the Rule(...) call as written, for the file's header
    stat_enqueued: int | None = None
    stat_direct: int | None = None
    stat_kicked: int | None = None
    sets_weight: bool = False  # decided by plan.py: store the vtime weight in task storage
    may_kick: bool = False  # decided by plan.py: placement may wake or preempt a CPU

    @property
    def vtime(self) -> bool:
        return self.queue is not None and self.queue.vtime

    @property
    def preempts_fn(self) -> str:
        """The helper that evaluates this rule's preempt condition (rules.c.j2), when it has one."""
        return f"rule_{self.label}_preempts"

    @property
    def place_fn(self) -> str:
        """The placement helper this rule's tasks go through (one per queue)."""
        if self.queue is not None:
            return f"enqueue_{self.queue.name}"
        return "enqueue_local" if self.builtin == "SCX_DSQ_LOCAL" else "enqueue_global"

    @property
    def enqueue_fn(self) -> str:
        """The helper that places this rule's tasks at enqueue (rules.c.j2)."""
        return f"rule_{self.label}_enqueue"

    @property
    def direct_fn(self) -> str:
        """The helper that dispatches this rule's tasks straight to an idle CPU from select_cpu."""
        return f"rule_{self.label}_direct"

    @property
    def target_name(self) -> str:
        return self.queue.name if self.queue is not None else self.builtin.removeprefix("SCX_DSQ_")


@dataclass
class TunableSpec:
    name: str
    symbol: str
    ctype: str
    default: int
    min: int | None
    max: int | None
    live: bool
    unit: str | None
    doc: str
    loc: SrcLoc

    @property
    def section(self) -> str:
        # A live tunable with a non-zero initial value lives in .data, a zero one in .bss.
        if not self.live:
            return ".rodata"
        return ".data" if self.default else ".bss"


@dataclass
class CgroupHelperSpec:
    name: str
    exact: bool
    checks: list[str]
    loc: SrcLoc


@dataclass
class CallbackSpec:
    """One sched_ext callback of the generated scheduler."""
    name: str
    ret: str
    params: str
    sleepable: bool
    generated: bool  # scxpy writes a body (templates/callbacks/<name>.c.j2)
    raw: RawSpec | None = None  # the expert's raw C (raw.at: before / after / instead)
    # The op calls the generated body as a function, with raw C or timers around it
    # (templates/raw_wrap.c.j2); otherwise the generated body is the op itself.
    wrapped: bool = False
    template: str = ""  # decided by plan.py: the template of the generated part (or of the raw-only op)
    starts_timers: bool = False  # decided by plan.py: the op starts the raw C's timers last (init)

    @property
    def symbol(self) -> str:
        return f"scxpy_op_{self.name}"

    @property
    def returns_cpu(self) -> bool:
        """select_cpu returns a CPU, not a status: a raw part's CPU overrides scxpy's."""
        return self.name == "select_cpu"


@dataclass
class KeepPrevSpec:
    """dispatch may keep running `prev` when its vtime queue would pick it anyway
    (one helper per queue, keep_prev_<queue>(), called with each rule's slice)."""
    queue: QueueSpec
    rules: list[RuleSpec]  # the rules that send tasks to this queue
    earlier: list[QueueSpec]  # queues dispatch serves before this one


@dataclass
class Policy:
    cls_name: str
    name: str
    description: str
    source: str
    loc: SrcLoc
    timeout_ms: int
    partial: bool
    queues: list[QueueSpec]
    rules: list[RuleSpec]
    dispatch_kind: str  # "priority" | "round_robin" | "earliest_vtime": callbacks/dispatch_<kind>.c.j2
    dispatch_queues: list[QueueSpec]
    dispatch_weights: list[int]
    dispatch_loc: SrcLoc
    select_cpu: str
    select_loc: SrcLoc
    tunables: list[TunableSpec]
    features: set[str]
    cgroup_helpers: list[CgroupHelperSpec]
    raw_part: rawc.RawPart  # the expert's raw C: hooks, declarations, timers
    taskvars: list[taskstate.TaskVarSpec] = field(default_factory=list)
    counters: bool = True  # event counters compiled in (setting `counters`, or the compile flag)
    stats: list[str] = field(default_factory=list)
    stat_fallback: int | None = None
    stat_hotplug: dict[str, int] = field(default_factory=dict)  # cpu_online/cpu_offline -> slot
    # Decided by plan.py once the rest is known.
    callbacks: list[CallbackSpec] = field(default_factory=list)
    keep_prev: list[KeepPrevSpec] = field(default_factory=list)
    builtin_targets: list[str] = field(default_factory=list)  # "local" / "global" helpers needed
    global_kick: bool = False  # placing in SCX_DSQ_GLOBAL wakes an idle CPU
    max_wait_ns: int = 0  # setting max_wait: the wait guard's bound (0: none)
    stat_waited: int | None = None  # tasks the wait guard ran

    # --- what the generated code needs (pay only for what is used) ----------
    @property
    def metrics(self) -> list[str]:
        return sorted(f.split(":", 1)[1] for f in self.features if f.startswith("metric:"))

    @property
    def uses_vtime(self) -> bool:
        return any(q.vtime for q in self.queues)

    @property
    def cgroup_shares(self) -> bool:
        """Some queue shares CPU time by cgroup weight (templates/cgroup/)."""
        return any(q.share == "cgroup" for q in self.queues)

    @property
    def ops_type(self) -> str:
        """The C type of the ops map. A callback newer than 6.12 may be missing from the
        vmlinux.h compiled against: scxpy then declares its own type with just the members
        it sets (libbpf drops the ___ suffix and matches members by name)."""
        newer = any(cb.name in OPS_SINCE for cb in self.callbacks)
        return "sched_ext_ops___scxpy" if newer else "sched_ext_ops"

    @property
    def uniform_slice_ns(self) -> int | None:
        """The slice every rule gives, when that is one constant."""
        slices = {r.slice_ns for r in self.rules}
        return slices.pop() if len(slices) == 1 else None

    @property
    def vtime_from_slice(self) -> bool:
        """Charge vtime from what the kernel took off the slice instead of from
        a clock in task storage. Exact when every task starts each run with the
        same full slice (ops.running sets it) and its weight is the task's own:
        then no per-task state is needed at all (no metric, task variable,
        ordering key, cpu.curr or read of task.vtime either)."""
        return (self.uses_vtime and self.uniform_slice_ns is not None
                and not (self.metrics or self.taskvars or self.tracks_curr or self.keyed or self.cgroup_shares
                         or self.reads_task_vtime)
                and not any(r.weight_c for r in self.rules))

    @property
    def task_ctx(self) -> bool:
        return (bool(self.metrics) or (self.uses_vtime and not self.vtime_from_slice)
                or bool(self.taskvars) or self.tracks_curr)

    @property
    def keyed(self) -> bool:
        """Some queue is ordered by a key: a task's vtime then lives in task storage,
        since the kernel keeps the key in p->scx.dsq_vtime while the task is queued."""
        return any(q.key_c for q in self.queues)

    @property
    def reads_target(self) -> bool:
        """Some expression reads `cpu`: classify() and preempt conditions get target_cpu (and target_idle)."""
        return "cpu:target" in self.features

    @property
    def reads_target_idle(self) -> bool:
        return "cpu:idle" in self.features

    @property
    def tracks_curr(self) -> bool:
        """Per-CPU record of the running task's rule, kept in running/stopping."""
        return "cpu:curr" in self.features

    @property
    def uses_nr_idle(self) -> bool:
        return "nr_idle" in self.features

    @property
    def survives_hotplug(self) -> bool:
        """Stays attached while CPUs go off- and online. The generated part copes with
        any CPU going away (the kernel moves a departing CPU's tasks; the instances of
        per-CPU and per-LLC queues of offline CPUs are rescued: rescue_queues).
        Raw C may keep per-CPU state of its own, so a policy with raw C stays attached
        only if it hooks cpu_online or cpu_offline (it then handles hotplug itself).
        Otherwise the kernel exits the scheduler at each hotplug, asking for a restart."""
        raw = self.raw_part
        return not raw.any or bool(raw.hook("cpu_online") or raw.hook("cpu_offline"))

    @property
    def hotplug_bitmap(self) -> bool:
        """Hotplug keeps which CPUs are offline (else only how many): some queue has CPU
        structure (instances per CPU or LLC, or a CPU set) a departing CPU can leave unserved."""
        return self.survives_hotplug and self.uses_cpu_loops

    def serves_c(self, q: QueueSpec) -> str:
        """C: whether `cpu` may take tasks of queue `q` (its CPU set, or any CPU while no
        CPU of the set is online, so that no task is stranded)."""
        test = f"scxpy_bitmap_test(cpus_{q.name}, cpu)"
        return f"({test} || orphaned_{q.name})" if self.hotplug_bitmap else test

    @property
    def rescue_queues(self) -> list[QueueSpec]:
        """Queues with an instance per CPU or LLC whose offline CPUs' instances others serve."""
        return [q for q in self.dispatch_queues if not q.shared] if self.hotplug_bitmap else []

    @property
    def rescue_steps(self) -> list[str]:
        """First in ops.dispatch: tasks left in an offline CPU's queue instance."""
        return [f"rescue_{q.name}(cpu)" for q in self.rescue_queues]

    @property
    def wait_guard(self) -> bool:
        """A queued task can wait without bound (strict priority between queues, or vtime
        weights 1 and 10000 side by side): dispatch first serves one that waited past
        max_wait (dispatch/wait_guard.c.j2), before the kernel's watchdog ejects us."""
        several = self.dispatch_kind == "priority" and len(self.dispatch_queues) > 1
        return self.max_wait_ns > 0 and (self.uses_vtime or several)

    @property
    def first_steps(self) -> list[str]:
        """First in ops.dispatch, whatever its order: rescue, then the wait guard."""
        return self.rescue_steps + (["serve_overdue(cpu)"] if self.wait_guard else [])

    @property
    def vtime_store(self) -> str:
        """Where a task's virtual time lives (written where tctx is known to be valid)."""
        return "tctx->vtime" if self.keyed else "p->scx.dsq_vtime"

    @property
    def vtime_read(self) -> str:
        return "task_vtime(p, tctx)" if self.keyed else "p->scx.dsq_vtime"

    @property
    def cpu_clocks(self) -> bool:
        """Some queue keeps its instances' virtual times by CPU clocks (QueueSpec.cpu_clocked)."""
        return any(q.cpu_clocked for q in self.queues)

    @property
    def includes_helpers(self) -> bool:
        """scxpy/helpers.bpf.h: for raw C, and the idle-mask helpers cpu.idle and nr_idle use."""
        return (self.raw_part.any or self.reads_target_idle or self.uses_nr_idle or self.cgroup_shares
                or self.wait_guard)

    @property
    def taskvar_events(self) -> list[str]:
        """Events on which some TaskVar changes (each gets a taskvars_on_<event>() helper)."""
        return [ev for ev in taskstate.EVENTS if self.taskvar_updates(ev)]

    def taskvar_params(self, event: str) -> str:
        """The parameters of taskvars_on_<event>() beyond p and tctx (", bool runnable")."""
        extra = taskstate.EVENT_ARGS.get(event)
        return f", {extra[0]}" if extra else ""

    def taskvar_args(self, event: str) -> str:
        """The arguments the callback passes to taskvars_on_<event>() beyond p and tctx."""
        extra = taskstate.EVENT_ARGS.get(event)
        return f", {extra[1]}" if extra else ""

    def taskvar_updates(self, event: str) -> list[tuple[taskstate.TaskVarSpec, str, SrcLoc]]:
        """(var, C of its new value, the on_<event> line that wrote it) for one event."""
        return [(v, v.updates[event], v.update_locs[event]) for v in self.taskvars if event in v.updates]

    @property
    def per_cpu_queues(self) -> list[QueueSpec]:
        return [q for q in self.queues if q.scope != "shared"]

    @property
    def steal_queues(self) -> list[QueueSpec]:
        return [q for q in self.queues if q.steal]

    @property
    def uses_llc(self) -> bool:
        return self.select_cpu == "llc" or any(q.scope == "llc" for q in self.queues)

    @property
    def uses_cpu_loops(self) -> bool:
        return bool(self.per_cpu_queues) or self.uses_llc or any(q.cpus_words for q in self.queues)

    @property
    def uses_kick_any(self) -> bool:
        """Whether some placement wakes any idle CPU the task may use (kick_idle_for),
        including the fallback of a queue with a CPU set to the global queue."""
        return (self.places_global and self.global_kick) or any(
            q.kicks_any_idle or q.cpus_words for q in self.queues_by_rule)

    @property
    def uses_target_cpu(self) -> bool:
        return any(q.picks_cpu for q in self.queues_by_rule)

    @property
    def classify_reads_task(self) -> bool:
        """classify() copies names or the cgroup out of the task first."""
        return self.reads_comm or self.reads_leader_comm or self.reads_cgroup

    @property
    def reads_comm(self) -> bool:
        return "comm" in self.features

    @property
    def reads_leader_comm(self) -> bool:
        return "leader_comm" in self.features

    @property
    def reads_cgroup(self) -> bool:
        return "cgroup" in self.features

    @property
    def reads_task_vtime(self) -> bool:
        """Some expression reads task.vtime (task_vtime())."""
        return "vtime" in self.features

    @property
    def tracks_avg_runtime(self) -> bool:
        return "avg_runtime" in self.metrics

    @property
    def tracks_wakeup_freq(self) -> bool:
        return "wakeup_freq" in self.metrics

    @property
    def tracks_csw_rate(self) -> bool:
        return "csw_rate" in self.metrics

    @property
    def places_local(self) -> bool:
        """Some rule sends tasks to SCX_DSQ_LOCAL (enqueue_local())."""
        return "local" in self.builtin_targets

    @property
    def places_global(self) -> bool:
        """Some rule sends tasks to SCX_DSQ_GLOBAL (enqueue_global())."""
        return "global" in self.builtin_targets

    @property
    def select_cpu_template(self) -> str:
        """How select_cpu looks for an idle CPU: one template per choice."""
        return f"select_cpu/{self.select_cpu}.c.j2"

    @property
    def restricted_queues(self) -> list[QueueSpec]:
        return [q for q in self.queues if q.cpus_words]

    @property
    def llc_queues(self) -> list[QueueSpec]:
        return [q for q in self.queues if q.scope == "llc"]

    @property
    def queues_by_rule(self) -> list[QueueSpec]:
        """Declared queues some rule sends tasks to (each gets a placement helper)."""
        used = {id(r.queue) for r in self.rules if r.queue is not None}
        return [q for q in self.queues if id(q) in used]

    @property
    def ops_flags(self) -> list[str]:
        """sched_ext_ops.flags."""
        # cpu.max: a throttled task must give up its CPU even when nothing else waits
        # (the kernel would keep running it); enqueue sees it, with SCX_ENQ_LAST.
        return ((["SCX_OPS_SWITCH_PARTIAL"] if self.partial else [])
                + (["SCX_OPS_ENQ_LAST"] if self.cgroup_shares else []) + self.raw_part.ops_flags)

    @property
    def dispatch_steps(self) -> list[str]:
        """What ops.dispatch tries in turn after its algorithm, until one gives a task."""
        return [f"steal_{q.name}(cpu)" for q in self.steal_queues]

    @property
    def priority_steps(self) -> list[str]:
        """Strict-priority dispatch: rescue, the wait guard, keep prev, the queues in order, then stealing."""
        keep = ["prev && keep_prev(prev, cpu)"] if self.keep_prev else []
        return self.first_steps + keep + [f"consume_{q.name}(cpu)" for q in self.dispatch_queues] + self.dispatch_steps

    @property
    def context_args(self) -> str:
        """What the rule helpers and classify() are called with after `p`: the task's
        storage and the target CPU that cpu.* reads, when the policy uses them."""
        return ((", tctx" if self.task_ctx else "") + (", target_cpu" if self.reads_target else "")
                + (", target_idle" if self.reads_target and self.reads_target_idle else ""))

    def preempt_arg(self, r: RuleSpec) -> str:
        """Whether a woken task of rule `r` preempts its target CPU (the placement helper's argument)."""
        if r.preempt_c is None:
            return "true" if r.preempt else "false"
        return f"((enq_flags & SCX_ENQ_WAKEUP) && {r.preempts_fn}(p{self.context_args}))"

    def callback(self, name: str) -> CallbackSpec | None:
        return next((cb for cb in self.callbacks if cb.name == name), None)

    cache_line = CACHE_LINE

    @property
    def stats_row_bytes(self) -> int:
        """Bytes per CPU row of counters: whole cache lines, so no two CPUs share one."""
        return -(-8 * len(self.stats) // CACHE_LINE) * CACHE_LINE

    def config(self) -> list[ConfigItem]:
        """.rodata the loader fills from the machine's topology before load."""
        out = []
        if self.uses_cpu_loops:
            out.append(ConfigItem("scxpy_nr_cpus", "nr_cpus"))
        if self.uses_llc:
            out.append(ConfigItem("scxpy_nr_llcs", "nr_llcs"))
            out.append(ConfigItem("scxpy_llc_of_cpu", "llc_of_cpu"))
        return out

    def manifest(self) -> Manifest:
        return Manifest(
            name=self.name,
            description=self.description.splitlines()[0] if self.description else "",
            source=abs_path(self.source),
            tunables=tuple(
                ManifestTunable(name=t.name, symbol=t.symbol, default=t.default, min=t.min, max=t.max,
                                live=t.live, unit=t.unit, doc=t.doc)
                for t in self.tunables
            ),
            stats=Stats(symbol="scxpy_stats", names=tuple(self.stats), row_bytes=self.stats_row_bytes)
            if self.stats else None,
            config=tuple(self.config()),
            cgroup=CGROUP_FEATURES if self.cgroup_shares else (),
        )
