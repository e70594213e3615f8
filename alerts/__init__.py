"""Alerting: per-(check, target) state with hysteresis, notification policy, email delivery."""
