"""A journal storage that beats, so that a dead worker's trial runs again on a journal too.

Optuna 5.0.0 implements its heartbeat protocol (`BaseHeartbeat`) for RDB
storages only. A journal file on a shared file system is the set-up that
needs it most (workers on several machines), so this storage adds the
protocol's four methods to optuna's own `JournalStorage`; optuna's
`fail_stale_trials`, heartbeat thread and `RetryHeartbeatStaleTrialCallback`
then work on it unchanged:

- a beat is a trial system attribute holding the worker's wall-clock time
  (one journal line per beat);
- a RUNNING trial is stale when its last beat, or its start if it has not
  beaten yet, is older than the grace period. A retried trial inherits its
  dead predecessor's attributes, the old beat among them, so a beat older
  than the trial's own start does not count;
- two workers may both find a trial stale: the journal applies the first
  FAIL and refuses the second (UpdateFinishedTrialError, which optuna's
  `fail_stale_trials` expects), so the trial runs again once.

The workers' clocks must agree to well within the grace period (NTP does).
"""

from __future__ import annotations

import time

import optuna
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalStorage
from optuna.trial import TrialState

BEAT = "scxpy_beat"


class BeatingJournalStorage(JournalStorage, BaseHeartbeat):
    def __init__(self, backend, interval_s: int, grace_s: int, stale_trial_callback):
        super().__init__(backend)
        self._interval_s, self._grace_s, self._callback = interval_s, grace_s, stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self.set_trial_system_attr(trial_id, BEAT, time.time())
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker failed it meanwhile (and queued it again): nothing left to keep alive

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        limit = time.time() - self._grace_s
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return [t._trial_id for t in running if _last_sign_of_life(t) < limit]

    def get_heartbeat_interval(self) -> int:
        return self._interval_s

    def get_heartbeat_stale_trial_callback(self):
        return self._callback


def _last_sign_of_life(trial) -> float:
    started = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
    return max(float(trial.system_attrs.get(BEAT, 0.0)), started)
