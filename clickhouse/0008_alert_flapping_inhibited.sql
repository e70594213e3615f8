-- Alert history for flap suppression, dependency-aware inhibition and outbox quarantine:
-- ops.alert_events gets the 'flapping' and 'inhibited' events, ops.notifications the
-- 'quarantined' status (an email that can never be sent, replaced by a plain-text fallback).
-- Adding values to an Enum8 only changes metadata; existing rows keep their codes.
ALTER TABLE {ops}.alert_events
    MODIFY COLUMN event Enum8('open' = 1, 'repeat' = 2, 'resolve' = 3, 'severity_change' = 4,
                              'flapping' = 5, 'inhibited' = 6);

ALTER TABLE {ops}.notifications
    MODIFY COLUMN status Enum8('sent' = 1, 'retrying' = 2, 'failed' = 3, 'suppressed' = 4,
                               'quarantined' = 5);
