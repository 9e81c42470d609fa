"""RQ jobs. Each job receives ids only, runs inside ``job_app()`` and owns its transaction.

Modules: ``deadlines`` (firing, sweeping), ``escalations`` and ``notify`` (escalation steps,
notification outbox). ``context`` provides the per-process app the jobs run in.
"""
