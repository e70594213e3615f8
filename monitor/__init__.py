"""The downtime detector: health checks on a schedule, results to ClickHouse, state to alerts.

Detection budget with the default settings, for a consumer that stops committing while data
keeps arriving (goal: email within 15 s):

* the lag check samples every ``lag_interval_s`` = 2 s; the first sample after the last commit
  comes within 2 s;
* Burrow's STALLED/STOPPED needs ``lag_window`` = 5 equal samples: + 8 s;
* the alert opens after ``open_after`` = 2 failing results: + 2 s;
* ``group_wait_s`` = 1 s plus the 0.25 s dispatch tick, then SMTP (milliseconds locally).

So 11.3-13.3 s plus check run time; measured 12.5-13.3 s on the real Kafka + aiosmtpd
(tests/monitor/test_lag_scenario.py prints it). A shorter window or ``open_after`` = 1 would
detect sooner but let one slow commit cycle page someone.
"""
