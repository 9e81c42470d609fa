"""The duty watch (值班值守): rota, duty log, roll calls, handovers and emergency mode.

Settings (``CASEFLOW_<KEY>`` overrides, read with defaults by :mod:`.settings`):
``DUTY_SHIFT_START`` ("08:30"), ``DUTY_MIN_STAFF`` (2), ``DUTY_MIN_STAFF_EMERGENCY`` (4),
``DUTY_MIN_STAFF_HOLIDAY`` (3), ``DUTY_MIN_STAFF_SPECIAL`` (3), ``DUTY_HOLIDAY_LEADER`` (true),
``DUTY_SPECIAL_LEADER`` (true), ``HANDOVER_GRACE_MIN`` (30), ``HANDOVER_REMINDER_MIN`` (30),
``ROLL_CALL_ANSWER_MIN`` (5), ``DUTY_GAP_DAYS_AHEAD`` (3). A center's own staffing rules
(:mod:`.rules`) override the ``DUTY_MIN_STAFF*`` and ``DUTY_*_LEADER`` defaults.
"""
