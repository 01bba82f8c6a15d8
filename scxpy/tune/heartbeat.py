"""A worker that dies mid-trial: optuna's heartbeat fails its trial, and the trial runs again.

Every worker beats for the trial it runs (optuna's own heartbeat thread
writes the time into the storage every `interval` seconds). Before each
`ask()` a worker lets optuna fail the RUNNING trials whose last beat is
older than the grace period (`optuna.storages.fail_stale_trials`), and
optuna's `RetryHeartbeatStaleTrialCallback` adds each of them again as a
WAITING trial with the same values and user attributes, its slot among
them, so some worker runs it again and the requested count stays exact:
the failed one is known by the retry's `retry_history` and not counted.

Optuna 5.0.0 implements the heartbeat for RDB storages only (RDBStorage
inherits BaseHeartbeat); for a journal file scxpy adds it
(scxpy.tune.journal), so every storage `--storage` takes beats. The
heartbeat is meant for `Study.optimize`; scxpy asks and tells itself
(trial slots, spares, pruning), so it calls the same two pieces `optimize`
calls: `fail_stale_trials` before `ask`, and `get_heartbeat_thread` around
the trial.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

DEFAULT_INTERVAL_S = 30
# Three beats may be missed (a loaded host, a slow database) before a trial counts as dead.
GRACE_BEATS = 3


@contextmanager
def _quiet():
    # Optuna marks the heartbeat experimental and warns when it is used outside
    # Study.optimize; scxpy's ask/tell loop does what optimize does, on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _options(interval_s: int):
    """(interval, grace period, the callback that queues a dead worker's trial again)."""
    import optuna

    with _quiet():
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback()  # no limit: every slot runs to the end
    return interval_s, GRACE_BEATS * interval_s, retry


def rdb_storage(url: str, interval_s: int | None):
    """An RDB storage beating every `interval_s` seconds (None: no heartbeat, to read a study)."""
    import optuna

    with _quiet():
        if interval_s is None:
            return optuna.storages.RDBStorage(url)
        interval, grace, retry = _options(interval_s)
        return optuna.storages.RDBStorage(url, heartbeat_interval=interval, grace_period=grace,
                                          heartbeat_stale_trial_callback=retry)


def journal_storage(path: str, interval_s: int | None):
    """A journal file storage beating every `interval_s` seconds (None: no heartbeat)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    backend = JournalFileBackend(path, lock_obj=JournalFileOpenLock(path))
    if interval_s is None:
        return optuna.storages.JournalStorage(backend)
    from scxpy.tune.journal import BeatingJournalStorage

    return BeatingJournalStorage(backend, *_options(interval_s))


def interval(storage) -> int | None:
    """The storage's heartbeat interval in seconds, or None if it does not beat."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return storage.get_heartbeat_interval() if is_heartbeat_enabled(storage) else None


def fail_stale(study) -> None:
    """Fail the trials of dead workers (their slots come back as waiting trials)."""
    import optuna

    with _quiet():
        optuna.storages.fail_stale_trials(study)


def ask(study):
    with _quiet():
        return study.ask()


@contextmanager
def beating(storage, trial):
    """Beat for `trial` while the block runs (nothing, for a storage without heartbeat)."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    with get_heartbeat_thread(trial._trial_id, storage):
        yield


def retried(trials) -> set[int]:
    """Numbers of the trials failed by the heartbeat and run again (optuna's retry_history)."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", ())}
