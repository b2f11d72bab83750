"""Predictive maintenance (机): window features, per-asset baselines, anomaly score, health index, RUL, alert state."""
