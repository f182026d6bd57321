"""Measurement: instruments as data, scoring, the schedule, collection, risk alerts.

Files
  instruments/*.yaml  the shipped definitions (CORE-OM, WAI-S, expected alliance, GAD-7, PHQ-9);
                      examples/wai-sr.yaml shows a swap. Extra folder: ``INSTRUMENTS_EXTRA_DIR``.
  instruments.py      load + validate (``InstrumentError`` names file and field); ``get_instrument(id)``
  scoring.py          pure: ``score_answers(instrument, answers) -> ScoreResult``, ``reliable_change``,
                      ``clinically_significant_improvement``, ``change_category``
  schedule.py         pure: ``plan_administrations(...)``, ``window_status(...)`` (trial time zone)
  models.py           Administration, AdministrationAnswer, RiskAlert, InstalledWording
  services.py         materialise/refresh, drafts, submit, corrections, alerts, query helpers, hooks
  wording.py          licensed wording: check against the definition, install per trial
  tasks.py            periodic Huey task (every 15 min): windows open/missed, reminders
  routes.py           patient questionnaire pages, staff pages; template globals for the includes

For other parts (all in ``icbt.measures.services``)
  materialise_schedule(session, participant, *, now=None, notify=True, refresh=True) -> list[Administration]
      idempotent, never deletes. Services that change a participant's state call it with
      refresh=False (randomisation and imported allocations, plan approval, cross-over, the
      intake); the periodic task (refresh_all) moves windows, announces openings and reminds.
      Pages never write: they show ``Administration.status_at(now)`` (template filter
      ``status_now``) and ``due_for_participant(session, participant, now=...)``.
      Screening questionnaires are not announced by message or e-mail (the intake page lists them).
  administration_opened_listeners / administration_reminder_listeners /
  administration_submitted_listeners: list[Callable[[Session, Administration], None]]
  risk_alert_listeners: list[Callable[[Session, Sequence[RiskAlert]], None]]
      append a callable (e.g. messaging posts the invitation); called in the same
      transaction, inside a savepoint: a failing listener is logged, never undoes a measurement
  latest_core_om_clinical(session, participant_ids) -> {participant_id: float | None}   (one query)
  unacknowledged_alert_counts(session, participant_ids) -> {participant_id: int}        (one query)
  unacknowledged_alert_total(session, trial_id=None) -> int
  analysis_records(session, trial_id, *, slots=None) -> list[dict]   (shape in its docstring)
  due_for_participant(session, participant, *, now=None) -> list[Administration]
  urgent_help_text(trial) -> str      (trial.settings["urgent_help_text"] or our default)

E-mail: ``icbt.notifications.send_email(to, subject, body, *, session=None)``.
"""
