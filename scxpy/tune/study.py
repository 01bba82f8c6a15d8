"""The optuna study behind a tune: its storage, its sampler, and the trial slots workers share.

The study lives in optuna's own storage: by default SQLite in the output
directory (`DIR/study.db`; open it with `optuna-dashboard sqlite:///DIR/study.db`),
or any URL `--storage` names: an RDB (postgresql://, mysql://) or a
journal file on a shared file system (a path ending in `.log`, or
`journal:PATH`). Workers on other machines join with `--join STUDY`.

The requested number of trials is exact across workers: the study is
created with that many WAITING trials ("slots"), and optuna hands each
waiting trial to exactly one worker (its storage changes WAITING to
RUNNING atomically). A worker stops when no slot is left. Should two
workers race for the last slot, the loser's `ask()` creates a spare trial,
which it marks failed at once (user attribute `spare`) without running it.
A trial interrupted (Ctrl-C) is marked failed and its slot put back, so a
resumed tune still runs the requested count. A trial whose worker died
(SIGKILL, a lost machine) is failed by another worker once its heartbeat
stops, and runs again (scxpy.tune.heartbeat).
"""

from __future__ import annotations

import time
from pathlib import Path

from scxpy.tune import heartbeat
from scxpy.tune.errors import TuneError

SLOT = "slot"
SPARE = "spare"
INTERRUPTED = "interrupted"
# How long a worker waits for another's SQLite write (pysqlite's own default is 5 s,
# short for a host that also runs two TCG guests).
SQLITE_LOCK_WAIT_S = 60


def storage_for(url: str | None, out: Path, heartbeat_s: int | None = None):
    """An optuna storage object for `url` (None: SQLite in `out`), beating every `heartbeat_s`
    seconds for the trial its worker runs (None: no heartbeat, to read a study)."""
    if url is None:
        out.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(out / 'study.db').resolve()}"
    if url.startswith("journal:") or url.endswith(".log"):
        path = url.removeprefix("journal:")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return heartbeat.journal_storage(path, heartbeat_s)
    for attempt in range(5):
        try:
            storage = heartbeat.rdb_storage(url, heartbeat_s)
            if storage.engine.name == "sqlite":
                _writes_in_turn(storage.engine)
            return storage
        except Exception as e:  # optuna/sqlalchemy say what was wrong with the URL or server
            # Two workers opening a new database at once race to create its tables;
            # the loser finds them made: opening again then works.
            if ("already exists" in str(e) or "UNIQUE constraint failed" in str(e)) and attempt < 4:
                time.sleep(0.2 * (attempt + 1))
                continue
            raise TuneError(f"cannot open the optuna storage {url!r}: {e}; give an RDB URL "
                            "(sqlite:///PATH, postgresql://..., mysql://...) or a journal file (journal:PATH)") from None


def _writes_in_turn(engine) -> None:
    """Make SQLite take its write lock when a transaction begins (BEGIN IMMEDIATE).

    Optuna claims a waiting trial by reading its state and then writing RUNNING,
    and relies on SELECT ... FOR UPDATE to keep a second worker out in between.
    SQLite has no FOR UPDATE, and pysqlite only begins a transaction at the first
    write, so two workers could both read WAITING and both run the same trial
    (seen in CI). Beginning every transaction IMMEDIATE makes read-then-write one
    step; waiting for the lock replaces the race.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _manual(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # pysqlite emits no BEGIN of its own
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_LOCK_WAIT_S * 1000}")

    @event.listens_for(engine, "begin")
    def _immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners are not reused


def sampler(seed: int, n_startup: int = 10):
    """TPE, seeded; constraints reach it through Trial.set_constraint (optuna 5)."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, multivariate=True)


def create(storage, name: str, directions: list[str], n_trials: int, seed: int, pruner, attrs: dict):
    """A new study with `n_trials` slots; refuses to overwrite one of the same name."""
    import optuna

    if name in {s.study_name for s in optuna.study.get_all_study_summaries(storage)}:
        raise TuneError(f"a study named {name!r} already exists in this storage; pass --resume to go on "
                        "with it, --join to add a worker, or another --out/--study-name")
    study = optuna.create_study(storage=storage, study_name=name, directions=directions,
                                sampler=sampler(seed, _startup(n_trials)), pruner=pruner)
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    study.set_user_attr("n_trials", n_trials)
    for i in range(n_trials):
        study.enqueue_trial({}, user_attrs={SLOT: i})
    return study


def _startup(n_trials: int) -> int:
    # TPE's random start-up trials: optuna's default 10 would leave a short
    # tune nothing to model; a third of the trials, at least 2.
    return max(2, min(10, n_trials // 3))


def load(storage, name: str, seed: int, pruner, *, worker: int = 0):
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        known = [s.study_name for s in optuna.study.get_all_study_summaries(storage)]
        raise TuneError(f"no study named {name!r} in this storage (it holds: {', '.join(known) or 'none'}); "
                        "start it with `scxpy tune ... --storage URL` first") from None
    n = int(study.user_attrs.get("n_trials", 0))
    # Another seed per worker: two workers with one seed would draw the same start-up trials.
    return optuna.load_study(study_name=name, storage=storage,
                             sampler=sampler(seed + worker, _startup(n)), pruner=pruner)


def requeue_stale(study, storage) -> int:
    """After a crash of the only worker: its RUNNING trials will never finish; fail them and put
    their slots back. Only for a study no other worker is using (--resume, not --join)."""
    import optuna

    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        storage.set_trial_user_attr(t._trial_id, INTERRUPTED, True)
        storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial({}, user_attrs={SLOT: t.user_attrs.get(SLOT, -1)})
    return len(stale)


def next_trial(study):
    """A trial to run, or None when every slot is taken. Dead workers' trials are failed first,
    and come back as waiting trials (heartbeat storages)."""
    import optuna

    heartbeat.fail_stale(study)
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        return None
    trial = heartbeat.ask(study)
    if SLOT not in trial.user_attrs:  # lost the race for the last slot: never run it
        trial.set_user_attr(SPARE, True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return None
    return trial


def interrupted(study, trial) -> None:
    """Ctrl-C during `trial`: mark it failed and put its slot back for --resume."""
    import optuna

    try:
        trial.set_user_attr(INTERRUPTED, True)
    except optuna.exceptions.UpdateFinishedTrialError:
        return  # failed already by another worker (heartbeat), and back in the queue
    study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
    study.enqueue_trial({}, user_attrs={SLOT: trial.user_attrs.get(SLOT, -1)})


def running(study) -> list:
    import optuna

    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))


def counts(study) -> tuple[int, int]:
    """(finished trials that used a slot, slots requested); a dead worker's trial, run again, counts once."""
    trials = study.get_trials(deepcopy=False)
    again = heartbeat.retried(trials)
    done = [t for t in trials if t.state.is_finished() and not t.user_attrs.get(SPARE)
            and not t.user_attrs.get(INTERRUPTED) and t.number not in again]
    return len(done), int(study.user_attrs.get("n_trials", 0))
