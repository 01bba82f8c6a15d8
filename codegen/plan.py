"""Planning the generated C from a validated model: which idle CPU each
placement wakes, where dispatch may keep the previous task, which
sched_ext callbacks exist (generated, raw, or both), and a counter slot
for every event the code counts. Everything the templates would otherwise
have to work out is decided here, once, on the model."""

from __future__ import annotations

from scxpy.codegen import kfuncs, rawc, taskstate
from scxpy.codegen.model import CGROUP_CALLBACKS, CallbackSpec, KeepPrevSpec, Policy


def plan(pol: Policy) -> None:
    """Fill in the model's decisions (in this order: callbacks depend on placement)."""
    plan_cgroup_shares(pol)
    plan_placement(pol)
    plan_lag_clamp(pol)
    plan_keep_prev(pol)
    plan_callbacks(pol)
    if pol.counters:
        assign_stat_slots(pol)


def plan_placement(pol: Policy) -> None:
    """How each queue's placement helper wakes CPUs, and what each rule may do to one."""
    # Waking an idle CPU at enqueue. A queue instance of one CPU or LLC, or a
    # queue only some CPUs serve, must wake a CPU that serves it. A queue every
    # CPU serves needs no kick: a wakeup went through select_cpu, which looked
    # for an idle CPU and dispatched there directly if it found one, and the
    # kernel itself reschedules the task's CPU if that went idle meanwhile;
    # after any other enqueue the CPU that enqueued dispatches next. Unless
    # select_cpu only looked in one LLC ("llc"), or the policy's raw C takes
    # part in select_cpu (it may pick a CPU without looking for an idle one):
    # then an idle CPU elsewhere could stay idle, so kick one.
    others_unseen = pol.select_cpu == "llc" or any(h.callback == "select_cpu" for h in pol.raw_part.hooks)
    for q in pol.queues:
        if q.scope in ("cpu", "llc"):
            q.kick = q.scope
        else:
            q.kick = "any" if q.cpus_words or others_unseen else "none"
        q.kicks_any_idle = q.kick == "any" or q.steal
        q.preempts = any(r.preempt for r in pol.rules if r.queue is q)
    pol.global_kick = others_unseen
    for r in pol.rules:
        r.sets_weight = r.vtime and pol.task_ctx
        if r.queue is not None:
            r.may_kick = r.queue.kick != "none" or r.preempt
        else:
            r.may_kick = r.builtin == "SCX_DSQ_GLOBAL" and (pol.global_kick or r.preempt)
    pol.builtin_targets = [b for b in ("local", "global")
                           if any(r.builtin == f"SCX_DSQ_{b.upper()}" for r in pol.rules)]


def plan_lag_clamp(pol: Policy) -> None:
    """Where the one virtual clock (vtime_now, that of the latest task started) is the
    queue's own, the lag clamp applies on wakeup only: a preempted heavy task is behind
    by right, and clamping it at every enqueue cost weight shares (12 points on 6.12).
    Where the clock also follows other queues or other CPUs' instances, tasks long queued
    on a busy instance fall far behind it, and a woken task clamped to it would wait for
    all of them (a 41.7 s stall under local in torture): there the clamp keeps every task
    it places within the lag of the clock, at every enqueue."""
    for q in pol.queues:
        q.lag_on_wakeup_only = (q.vtime and len(pol.queues) == 1 and q.scope == "shared"
                                and not q.cpus_words and q.share == "task")


def plan_cgroup_shares(pol: Policy) -> None:
    """A rule sending tasks to a share="cgroup" queue charges them with their share of
    the machine through the cgroup hierarchy (templates/cgroup/state.c.j2), the rule's
    own weight (default the task's) deciding among the tasks of one cgroup."""
    for r in pol.rules:
        if r.queue is not None and r.queue.share == "cgroup":
            r.weight_c = f"cgroup_weight(p, {r.weight_c or '(s64)p->scx.weight'})"


def plan_keep_prev(pol: Policy) -> None:
    """Keep the previous task (see templates/callbacks/dispatch.c.j2) only where
    a strict priority order over vtime queues could hand the CPU to a task
    dispatch would not pick."""
    if pol.dispatch_kind != "priority" or not pol.uses_vtime:
        return
    for i, q in enumerate(pol.dispatch_queues):
        rules = [r for r in pol.rules if r.queue is q and r.vtime]
        if rules:
            pol.keep_prev.append(KeepPrevSpec(q, rules, pol.dispatch_queues[:i]))


def plan_callbacks(pol: Policy) -> None:
    """The sched_ext callbacks of the generated scheduler, in struct sched_ext_ops order."""
    raw = {r.callback: r for r in pol.raw_part.hooks}
    generated = {"select_cpu", "enqueue", "dispatch", "init", "exit"}
    if pol.task_ctx or pol.uses_vtime:
        generated.add("running")
    if pol.task_ctx:
        generated |= {"stopping", "init_task"}
    if pol.vtime_from_slice:
        generated.add("stopping")
    if "wakeup_freq" in pol.metrics:
        generated.add("runnable")
    generated |= {ev for ev in taskstate.EVENTS if pol.taskvar_updates(ev)}
    if pol.uses_vtime:
        generated.add("enable")
    if pol.cgroup_shares:
        generated |= set(CGROUP_CALLBACKS)
    if pol.survives_hotplug:
        generated |= {"cpu_online", "cpu_offline"}
    pol.callbacks = []
    for name, spec in rawc.CALLBACKS.items():  # the kernel's order of struct sched_ext_ops
        hook = raw.get(name)
        gen = name in generated and not (hook and hook.at == "instead")
        if gen or hook:
            # Timers start at the end of init, after the raw init hook.
            timers = name == "init" and gen and bool(pol.raw_part.timers)
            pol.callbacks.append(CallbackSpec(name, spec.ret, spec.params, name in kfuncs.SLEEPABLE, gen, hook,
                                              wrapped=gen and (hook is not None or timers),
                                              template=_template(pol, name, gen), starts_timers=timers))


def _template(pol: Policy, name: str, generated: bool) -> str:
    """The template of a callback's generated part: dispatch has one per algorithm."""
    if not generated:
        return "callbacks/raw_only.c.j2"
    if name == "dispatch":
        return f"callbacks/dispatch_{pol.dispatch_kind}.c.j2"
    if name in ("cpu_online", "cpu_offline"):
        return "callbacks/hotplug.c.j2"
    return f"callbacks/{name}.c.j2"


def assign_stat_slots(pol: Policy) -> None:
    """A counter slot for every event the generated code can count (none stays None: not counted)."""
    names: list[str] = []

    def slot(n: str) -> int:
        names.append(n)
        return len(names) - 1

    for r in pol.rules:
        r.stat_enqueued = slot(f"rule.{r.label}.enqueued")
        r.stat_direct = slot(f"rule.{r.label}.direct")
        if r.may_kick:
            r.stat_kicked = slot(f"rule.{r.label}.kicked")
    for q in pol.queues:
        q.stat_enqueued = slot(f"queue.{q.name}.enqueued")
        q.stat_dispatched = slot(f"queue.{q.name}.dispatched")
        if q.steal:
            q.stat_stolen = slot(f"queue.{q.name}.stolen")
    for q in pol.rescue_queues:
        q.stat_rescued = slot(f"queue.{q.name}.rescued")
    if pol.wait_guard:
        pol.stat_waited = slot("wait_guard.served")
    if pol.restricted_queues:
        pol.stat_fallback = slot("cpus_fallback_to_global")
    if pol.survives_hotplug:
        pol.stat_hotplug = {"cpu_online": slot("hotplug.online"), "cpu_offline": slot("hotplug.offline")}
    pol.stats = names
